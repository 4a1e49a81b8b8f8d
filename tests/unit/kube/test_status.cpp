#include <catch2/catch.hpp>

#include "kube/client.hpp"

using namespace wb;
using namespace wb::kube;
using util::ErrorCode;

TEST_CASE("status_to_error maps metav1.Status to user-facing errors", "[status]") {
  SECTION("404") {
    auto e = status_to_error(404, R"({"kind":"Status","apiVersion":"v1","status":"Failure",
      "message":"deployments.apps \"orders\" not found","reason":"NotFound",
      "details":{"name":"orders","group":"apps","kind":"deployments"},"code":404})");
    CHECK(e.code == ErrorCode::NotFound);
    CHECK(e.http_status == 404);
    CHECK(e.message == "deployments.apps \"orders\" not found");
    auto plain = status_to_error(404, "404 page not found\n");
    CHECK(plain.code == ErrorCode::NotFound);
    CHECK(plain.message == "the server could not find the requested resource (404 Not Found)");
  }
  SECTION("401") {
    auto e = status_to_error(401, R"({"kind":"Status","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})");
    CHECK(e.code == ErrorCode::Auth);
    CHECK(e.message ==
          "the server rejected your credentials (401 Unauthorized): your token may have expired; log in again");
  }
  SECTION("403 keeps the server's words") {
    std::string msg =
        "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace "
        "\"shop-prod\"";
    auto e = status_to_error(403, R"({"kind":"Status","status":"Failure","message":")" +
                                      std::string("pods is forbidden: User \\\"alice\\\" cannot list resource "
                                                  "\\\"pods\\\" in API group \\\"\\\" in the namespace "
                                                  "\\\"shop-prod\\\"") +
                                      R"(","reason":"Forbidden","code":403})");
    CHECK(e.code == ErrorCode::Auth);
    CHECK(e.http_status == 403);
    CHECK(e.message == msg);
    CHECK(e.hint == "ask your cluster administrator for access");
  }
  SECTION("409 AlreadyExists and Conflict") {
    auto a = status_to_error(409, R"({"kind":"Status","message":"configmaps \"c\" already exists","reason":"AlreadyExists","code":409})");
    CHECK(a.code == ErrorCode::Conflict);
    CHECK(a.message == "configmaps \"c\" already exists");
    auto c = status_to_error(409, R"({"kind":"Status","message":"Operation cannot be fulfilled on deployments.apps \"x\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","code":409})");
    CHECK(c.code == ErrorCode::Conflict);
    CHECK(c.message ==
          "Operation cannot be fulfilled on deployments.apps \"x\": the object has been modified; please apply your "
          "changes to the latest version and try again");
  }
  SECTION("410 Gone") {
    auto e = status_to_error(410, R"J({"kind":"Status","message":"too old resource version: 5 (20)","reason":"Expired","code":410})J");
    CHECK(e.code == ErrorCode::Conflict);
    CHECK(e.http_status == 410);
    CHECK(e.message == "too old resource version: 5 (20)");
  }
  SECTION("422 Invalid lists the causes' fields") {
    auto e = status_to_error(422, R"({"kind":"Status","status":"Failure",
      "message":"Deployment.apps \"Orders\" is invalid: [metadata.name: Invalid value: \"Orders\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, spec.replicas: Invalid value: -1: must be greater than or equal to 0]",
      "reason":"Invalid","details":{"name":"Orders","group":"apps","kind":"Deployment","causes":[
        {"reason":"FieldValueInvalid","message":"Invalid value: \"Orders\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters","field":"metadata.name"},
        {"reason":"FieldValueInvalid","message":"Invalid value: -1: must be greater than or equal to 0","field":"spec.replicas"}]},"code":422})");
    CHECK(e.code == ErrorCode::Usage);
    CHECK(e.http_status == 422);
    CHECK(e.message ==
          "Deployment.apps \"Orders\" is invalid: metadata.name: Invalid value: \"Orders\": a lowercase RFC 1123 "
          "subdomain must consist of lower case alphanumeric characters; spec.replicas: Invalid value: -1: must be "
          "greater than or equal to 0");
  }
  SECTION("400 BadRequest") {
    auto e = status_to_error(400, R"({"kind":"Status","message":"the server rejected our request: bad selector","reason":"BadRequest","code":400})");
    CHECK(e.code == ErrorCode::Usage);
    CHECK(e.message == "the server rejected our request: bad selector");
  }
  SECTION("500, 503, 429, 504") {
    auto e = status_to_error(500, R"({"kind":"Status","message":"etcdserver: request timed out","reason":"InternalError","code":500})");
    CHECK(e.code == ErrorCode::Unavailable);
    CHECK(e.message == "the Kubernetes API failed (500 Internal Server Error): etcdserver: request timed out");
    auto t = status_to_error(429, R"({"kind":"Status","message":"too many requests","code":429})");
    CHECK(t.code == ErrorCode::Unavailable);
    CHECK(t.message == "the Kubernetes API is throttling requests (429 Too Many Requests): too many requests");
    auto g = status_to_error(504, "");
    CHECK(g.code == ErrorCode::Timeout);
    CHECK(g.message == "the Kubernetes API timed out (504 Gateway Timeout)");
  }
  SECTION("non-JSON bodies become one line") {
    auto e = status_to_error(502, "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad "
                                  "Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n");
    CHECK(e.code == ErrorCode::Unavailable);
    CHECK(e.message ==
          "the Kubernetes API failed (502 Bad Gateway): 502 Bad Gateway 502 Bad Gateway nginx");
    auto s = status_to_error(503, "upstream connect error\nor disconnect/reset before headers\n");
    CHECK(s.message ==
          "the Kubernetes API failed (503 Service Unavailable): upstream connect error or disconnect/reset before "
          "headers");
  }
}

// Messages as a 1.32 apiserver words them (captured with curl on the kit's cluster).
TEST_CASE("status_to_error: fields the server refused are an internal error naming them", "[status]") {
  SECTION("strict decoding of a create or update: the kind, the fields, in the server's words") {
    auto e = status_to_error(
        400,
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"zzz\", duplicate field \"spec.replicas\", unknown field \"spec.template.spec.containers[0].ports[0].portBogus\"","reason":"BadRequest","code":400})");
    CHECK(e.code == ErrorCode::Failure);
    CHECK(e.http_status == 400);
    CHECK(e.message ==
          "internal error: the Kubernetes API refused the Deployment wb sent: unknown field \"zzz\", duplicate "
          "field \"spec.replicas\", unknown field \"spec.template.spec.containers[0].ports[0].portBogus\"");
    CHECK(e.hint == "please report this as a bug");
  }
  SECTION("many fields: the first five and how many more") {
    std::string list;
    for (int i = 0; i < 7; ++i) list += std::string(i ? ", " : "") + "unknown field \\\"f" + std::to_string(i) + "\\\"";
    auto e = status_to_error(
        400,
        R"({"kind":"Status","message":"ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: )" +
            list + R"(","reason":"BadRequest","code":400})");
    CHECK(e.message ==
          "internal error: the Kubernetes API refused the ConfigMap wb sent: unknown field \"f0\", unknown field "
          "\"f1\", unknown field \"f2\", unknown field \"f3\", unknown field \"f4\" and 2 more");
  }
  SECTION("a patch: 422 whose Invalid value (the whole patched object) is left out") {
    auto e = status_to_error(
        422,
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":" \"\" is invalid: patch: Invalid value: \"map[metadata:map[bad:1] zzz:1]\": strict decoding error: unknown field \"metadata.bad\", unknown field \"zzz\"","reason":"Invalid","details":{"causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"map[metadata:map[bad:1] zzz:1]\": strict decoding error: unknown field \"metadata.bad\", unknown field \"zzz\"","field":"patch"}]},"code":422})");
    CHECK(e.code == ErrorCode::Failure);
    CHECK(e.message ==
          "internal error: the Kubernetes API refused a patch wb sent: unknown field \"metadata.bad\", unknown field "
          "\"zzz\"");
  }
  SECTION("server-side apply: a 500 without a reason (or a 400 from a server that fixed that)") {
    for (int code : {500, 400}) {
      auto e = status_to_error(
          code,
          R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"failed to create typed patch object (/c5; /v1, Kind=ConfigMap): .metadata.ownerReferences[uid=\"u\"].ob: field not declared in schema","code":)" +
              std::to_string(code) + "}");
      CHECK(e.code == ErrorCode::Failure);
      CHECK(e.http_status == code);
      CHECK(e.message ==
            "internal error: the Kubernetes API refused the ConfigMap wb applied: "
            ".metadata.ownerReferences[uid=\"u\"].ob: field not declared in schema");
      CHECK(e.hint == "please report this as a bug");
    }
  }
  SECTION("server-side apply with duplicate keys under Strict") {
    auto e = status_to_error(
        400,
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  line 1: key \"replicas\" already set in map","reason":"BadRequest","code":400})");
    CHECK(e.code == ErrorCode::Failure);
    CHECK(e.message ==
          "internal error: the Kubernetes API refused the object wb applied: line 1: key \"replicas\" already set in "
          "map");
  }
  SECTION("other 500s stay the server's failure") {
    auto e = status_to_error(
        500, R"({"kind":"Status","message":"etcdserver: request timed out","reason":"InternalError","code":500})");
    CHECK(e.code == ErrorCode::Unavailable);
  }
}
