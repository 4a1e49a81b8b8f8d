#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "util/json.hpp"

using nlohmann::json;
using wb::util::json_at;
using wb::util::json_find;
using wb::util::json_value;

TEST_CASE("json_value reads a field of the wanted kind and falls back on any other", "[json]") {
  const json obj = {{"name", "orders"}, {"replicas", 3}, {"ready", true}, {"big", 1ULL << 40}, {"half", 1.5}};
  CHECK(json_value(obj, "name", "") == "orders");
  CHECK(json_value(obj, "replicas", 0) == 3);
  CHECK(json_value(obj, "ready", false));
  CHECK(json_value(obj, "name", 7) == 7);
  CHECK(json_value(obj, "replicas", "x") == "x");
  CHECK(json_value(obj, "big", 0) == 0);  // out of int's range
  CHECK(json_value(obj, "big", int64_t{0}) == (int64_t{1} << 40));
  CHECK(json_value(obj, "half", 0) == 0);
  CHECK(json_value(json::array({1, 2}), "name", "none") == "none");
}

TEST_CASE("json_at walks object keys and never throws on a mistyped or missing step", "[json]") {
  const json d = json::parse(R"({"metadata":{"annotations":{"a":"1"},"labels":[]},
                                 "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"c"}]}}},
                                 "status":"not an object"})");
  CHECK(json_at(d, "/spec/replicas", 0) == 2);
  CHECK(json_at(d, "/metadata/annotations", json::object()) == json{{"a", "1"}});
  CHECK(json_at(d, "/spec/template/spec/containers", json::array()).size() == 1);
  CHECK(json_at(d, "/metadata/annotations/a", "") == "1");
  // missing steps, steps of another kind, values of another kind
  CHECK(json_at(d, "/spec/missing/x", 5) == 5);
  CHECK(json_at(d, "/status/observedGeneration", int64_t{-1}) == -1);
  CHECK(json_at(d, "/metadata/labels", json::object()) == json::object());
  CHECK(json_at(d, "/spec/replicas", json::array()) == json::array());
  CHECK(json_at(d, "/spec/replicas", "") == "");
  CHECK(json_at(json("text"), "/spec", 9) == 9);
  CHECK(json_at(d, "spec", 9) == 9);  // not a pointer
  // a fallback that is not an object or array takes any JSON
  CHECK(json_at(d, "/spec/template", json()).is_object());
  CHECK(json_find(d, "") == &d);
  CHECK(json_find(d, "/spec/template/spec/containers/0") == nullptr);
}
