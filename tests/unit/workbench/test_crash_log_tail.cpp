// The log tail `wb app start` shows when an app keeps crashing, read from a (fake) API server.
#include <catch2/catch.hpp>

#include "kube/fakes.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/app/logs.hpp"

using namespace wb;
using namespace wb::workbench;
using nlohmann::json;
using wb::kube::test::FakeTransport;

namespace {

const std::string kPods = "/api/v1/namespaces/shop/pods";
const std::string kSelector = "?labelSelector=app.kubernetes.io%2Fname%3Dorders";

// An app whose one replica has restarted twice and waits to start again.
void crash_looping_app(FakeTransport& fake) {
  json deployment = {{"metadata", {{"name", "orders"}, {"uid", "d1"}, {"generation", 2}}},
                     {"spec", {{"replicas", 1}}},
                     {"status", {{"observedGeneration", 2}}}};
  json rs = {{"metadata",
              {{"name", "orders-h"},
               {"labels", {{"pod-template-hash", "h"}}},
               {"annotations", {{"deployment.kubernetes.io/revision", "2"}}},
               {"ownerReferences", json::array({{{"uid", "d1"}}})}}}};
  json pod = {{"metadata", {{"name", "orders-h-x1"}, {"labels", {{"pod-template-hash", "h"}}}}},
              {"status",
               {{"phase", "Running"},
                {"containerStatuses", json::array({{{"restartCount", 2},
                                                    {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}},
                                                    {"lastState", {{"terminated", {{"exitCode", 1}}}}}}})}}}};
  fake.on("GET", "/apis/apps/v1/namespaces/shop/deployments/orders", 200, deployment.dump());
  fake.on("GET", "/apis/apps/v1/namespaces/shop/replicasets" + kSelector, 200,
          json{{"items", json::array({rs})}, {"metadata", json::object()}}.dump());
  fake.on("GET", kPods + kSelector, 200, json{{"items", json::array({pod})}, {"metadata", json::object()}}.dump());
}

const std::string kPreviousLog = kPods + "/orders-h-x1/log?previous=true&tailLines=3&limitBytes=65536";

}  // namespace

TEST_CASE("the crash log tail waits out the kubelet's error text between two runs", "[lifecycle]") {
  auto fake = std::make_shared<FakeTransport>();
  crash_looping_app(*fake);
  // Right after a restart a real kubelet answers a previous-log read with its own error (200, no
  // newline) for a second or two; then with the log.
  fake->stream(kPreviousLog, {"unable to retrieve container logs for containerd://" + std::string(64, 'e')});
  fake->stream(kPreviousLog, {"failed to try resolving symlinks in path \"/var/log/pods/shop_orders-h-x1_u/orders/"
                              "2.log\": lstat /var/log/pods/shop_orders-h-x1_u/orders/2.log: no such file or "
                              "directory"});
  fake->stream(kPreviousLog, {"starting orders\nboom: ", "cannot start\n"});
  kube::RestConfig rc;
  rc.server = "https://k8s.test:6443";
  auto client = kube::make_client(rc, fake);
  auto lines = crash_log_tail(*client, "shop", "orders", 3);
  CHECK(lines == std::vector<std::string>{"starting orders", "boom: cannot start"});
  fake->verify();
}

TEST_CASE("a log that only looks like the kubelet's error text is a log", "[lifecycle]") {
  CHECK(kubelet_log_error("unable to retrieve container logs for containerd://abc"));
  CHECK(kubelet_log_error("failed to try resolving symlinks in path \"/x\": lstat /x: no such file or directory"));
  CHECK_FALSE(kubelet_log_error("unable to retrieve container logs for containerd://abc\n"));  // a line of a log
  CHECK_FALSE(kubelet_log_error("unable to retrieve container logs for x\nnext line"));
  CHECK_FALSE(kubelet_log_error("boom: cannot start"));
  CHECK_FALSE(kubelet_log_error(""));
}
