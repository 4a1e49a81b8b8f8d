// A kube::Client for command tests: answers from an in-memory table of objects and fails the test
// on calls nobody expected. Only what the commands under test use is implemented.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "kube/client.hpp"

namespace wb::test {

using nlohmann::json;
using util::Error;
using util::ErrorCode;

class FakeClient : public kube::Client {
 public:
  // Objects by "plural/namespace/name".
  std::map<std::string, json> objects;
  // SelfSubjectAccessReview answers by "verb resource namespace".
  std::map<std::string, bool> allowed;
  std::optional<json> user_info;  // nullopt: server without SelfSubjectReview
  // SelfSubjectRulesReview status by namespace (default: no rules).
  std::map<std::string, json> rules;
  std::optional<Error> list_error;
  kube::RestConfig cfg;
  std::vector<std::string> calls;
  bool removals = false;                  // remove() deletes (else it fails the test)
  std::optional<http::Response> version;  // what GET /version answers

  static std::string key(const kube::ResourceType& t, const std::string& ns, const std::string& name) {
    return t.plural + "/" + ns + "/" + name;
  }
  void add(const kube::ResourceType& t, const std::string& ns, json obj) {
    const std::string k = key(t, ns, obj["metadata"]["name"].get<std::string>());
    objects[k] = std::move(obj);
  }

  util::Result<json> get(const kube::ResourceType& t, const std::string& ns, const std::string& name) override {
    calls.push_back("get " + key(t, ns, name));
    auto it = objects.find(key(t, ns, name));
    if (it == objects.end()) return Error(ErrorCode::NotFound, t.plural + " \"" + name + "\" not found", "", 404);
    return it->second;
  }
  util::Result<json> list_page(const kube::ResourceType& t, const std::string& ns,
                               const kube::ListOptions& o) override {
    return list(t, ns, o);
  }
  util::Result<json> list(const kube::ResourceType& t, const std::string& ns, const kube::ListOptions& o) override {
    calls.push_back("list " + t.plural + " " + o.label_selector);
    if (list_error) return *list_error;
    json items = json::array();
    for (const auto& [k, v] : objects)
      if (k.rfind(t.plural + "/" + ns + "/", 0) == 0) items.push_back(v);
    return json{{"items", items}, {"metadata", {{"resourceVersion", "1"}}}};
  }
  util::Result<json> create(const kube::ResourceType& t, const std::string& ns, const json& obj, bool) override {
    calls.push_back("create " + t.plural);
    if (t.plural == "selfsubjectaccessreviews") {
      const auto& a = obj["spec"]["resourceAttributes"];
      std::string k = a["verb"].get<std::string>() + " " + a["resource"].get<std::string>() + " " +
                      a["namespace"].get<std::string>();
      json out = obj;
      out["status"] = {{"allowed", allowed.count(k) ? allowed[k] : false}};
      return out;
    }
    if (t.plural == "selfsubjectrulesreviews") {
      json out = obj;
      const std::string rns = obj["spec"].value("namespace", "");
      out["status"] = rules.count(rns) ? rules[rns] : json{{"resourceRules", json::array()}};
      return out;
    }
    if (t.plural == "selfsubjectreviews") {
      json out = obj;
      out["status"] = {{"userInfo", user_info.value_or(json::object())}};
      return out;
    }
    add(t, ns, obj);
    return obj;
  }
  util::Result<json> update(const kube::ResourceType&, const std::string&, const json&, bool) override {
    FAIL("unexpected update");
    return json();
  }
  util::Result<json> merge_patch(const kube::ResourceType&, const std::string&, const std::string&, const json&,
                                 bool) override {
    FAIL("unexpected merge_patch");
    return json();
  }
  util::Result<json> apply(const kube::ResourceType&, const std::string&, const json&, bool, bool) override {
    FAIL("unexpected apply");
    return json();
  }
  util::Status remove(const kube::ResourceType& t, const std::string& ns, const std::string& name,
                      const kube::DeleteOptions&) override {
    if (!removals) FAIL("unexpected remove");
    calls.push_back("remove " + key(t, ns, name));
    objects.erase(key(t, ns, name));
    return {};
  }
  util::Status watch(const kube::ResourceType&, const std::string&, const kube::WatchOptions&,
                     const std::function<bool(const kube::WatchEvent&)>&) override {
    FAIL("unexpected watch");
    return {};
  }
  util::Status list_watch(const kube::ResourceType&, const std::string&, const kube::WatchOptions&,
                          const std::function<bool(const kube::WatchEvent&)>&) override {
    FAIL("unexpected list_watch");
    return {};
  }
  util::Result<kube::Discovery> discovery() override { return kube::Discovery{}; }
  util::Result<kube::ResourceType> prefer(const std::vector<kube::ResourceType>& candidates) override {
    for (const auto& c : candidates)
      if (c.plural != "selfsubjectreviews" || user_info) return c;
    return Error(ErrorCode::NotFound, "not served");
  }
  util::Status pod_logs(const std::string&, const std::string&, const kube::LogOptions&,
                        const kube::StreamSink&) override {
    FAIL("unexpected pod_logs");
    return {};
  }
  util::Result<std::unique_ptr<kube::ExecSession>> exec(const std::string&, const std::string&,
                                                        const kube::ExecOptions&, kube::StreamSink,
                                                        kube::StreamSink) override {
    FAIL("unexpected exec");
    return Error(ErrorCode::Failure, "unexpected");
  }
  util::Result<http::Response> raw(const std::string& method, const std::string& path, const std::string&,
                                   const std::string&) override {
    calls.push_back("raw " + method + " " + path);
    if (method == "GET" && path == "/version" && version) return *version;
    FAIL("unexpected raw " << method << " " << path);
    return Error(ErrorCode::Failure, "unexpected");
  }
  const kube::RestConfig& config() const override { return cfg; }
};

}  // namespace wb::test
