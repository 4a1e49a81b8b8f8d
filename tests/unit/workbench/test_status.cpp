#include <catch2/catch.hpp>

#include "workbench/core/status.hpp"

using namespace wb::workbench;
using nlohmann::json;

namespace {

json deployment(int replicas) {
  return {{"metadata", {{"name", "orders"}, {"uid", "d1"}}}, {"spec", {{"replicas", replicas}}}, {"status", json::object()}};
}

json rs(const std::string& hash, int revision) {
  return {{"metadata",
           {{"name", "orders-" + hash},
            {"labels", {{"pod-template-hash", hash}}},
            {"annotations", {{"deployment.kubernetes.io/revision", std::to_string(revision)}}},
            {"ownerReferences", json::array({{{"uid", "d1"}, {"kind", "Deployment"}}})}}}};
}

json pod(const std::string& name, const std::string& hash, bool ready, json container_status = json::object()) {
  json p = {{"metadata", {{"name", name}, {"labels", {{"pod-template-hash", hash}}}}},
            {"status",
             {{"phase", "Running"},
              {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
  if (!container_status.empty()) p["status"]["containerStatuses"] = json::array({container_status});
  return p;
}

}  // namespace

TEST_CASE("stopped, starting, running, updating", "[status]") {
  auto stopped = compute_state("orders", deployment(0), json::array({rs("a", 1)}), json::array());
  CHECK(stopped.phase == Phase::Stopped);
  CHECK(stopped.summary() == "Stopped");

  auto starting = compute_state("orders", deployment(2), json::array({rs("a", 1)}),
                                json::array({pod("orders-a-1", "a", false)}));
  CHECK(starting.summary() == "Starting 0/2");

  auto running = compute_state("orders", deployment(2), json::array({rs("a", 1)}),
                               json::array({pod("orders-a-1", "a", true), pod("orders-a-2", "a", true)}));
  CHECK(running.summary() == "Running 2/2");
  CHECK(running.revision == "1");

  auto updating = compute_state("orders", deployment(2), json::array({rs("a", 1), rs("b", 2)}),
                                json::array({pod("orders-a-1", "a", true), pod("orders-b-1", "b", true)}));
  CHECK(updating.summary() == "Updating 1/2");
  CHECK(updating.old_replicas == 1);
  CHECK(updating.revision == "2");
}

TEST_CASE("crash loops are explained with the exit code and a hint", "[status]") {
  json cs = {{"name", "app"},
             {"restartCount", 4},
             {"ready", false},
             {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}},
             {"lastState", {{"terminated", {{"exitCode", 3}, {"reason", "Error"}}}}}};
  auto s = compute_state("orders", deployment(1), json::array({rs("a", 1)}), json::array({pod("p", "a", false, cs)}));
  CHECK(s.phase == Phase::Failing);
  CHECK(s.reason == "keeps crashing with exit code 3");
  CHECK(s.hint == "see `wb logs orders --previous`");
  CHECK(s.replicas.at(0).restarts == 4);
  CHECK(s.crash->message.empty());
  // The end of its log the kubelet keeps in the status (FallbackToLogsOnError) comes with the crash.
  cs["lastState"]["terminated"]["message"] = "Error occurred during initialization of VM\n";
  s = compute_state("orders", deployment(1), json::array({rs("a", 1)}), json::array({pod("p", "a", false, cs)}));
  REQUIRE(s.crash);
  CHECK(s.crash->message == "Error occurred during initialization of VM\n");
  CHECK(s.crash->exit_code == 3);

  // A program that ends by itself (exit code 0, "Completed") did not crash: it says so.
  cs["lastState"]["terminated"] = {{"exitCode", 0}, {"reason", "Completed"}};
  s = compute_state("orders", deployment(1), json::array({rs("a", 1)}), json::array({pod("p", "a", false, cs)}));
  CHECK(s.phase == Phase::Failing);
  CHECK(s.reason == "keeps exiting with code 0: its program ends, and an app must keep running");
  CHECK(s.hint == "see `wb logs orders --previous`");
}

TEST_CASE("out of memory, image pull and scheduling failures in words", "[status]") {
  json oom = {{"restartCount", 2},
              {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}},
              {"lastState", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}}};
  auto s = compute_state("orders", deployment(1), json::array({rs("a", 1)}), json::array({pod("p", "a", false, oom)}));
  CHECK(s.reason == "keeps being killed: out of memory");

  json pull = {{"state", {{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "Back-off pulling image \"x\""}}}}}};
  s = compute_state("orders", deployment(1), json::array({rs("a", 1)}), json::array({pod("p", "a", false, pull)}));
  CHECK(s.phase == Phase::Failing);
  CHECK(s.reason == "image cannot be pulled: Back-off pulling image \"x\"");

  json pending = {{"metadata", {{"name", "p"}, {"labels", {{"pod-template-hash", "a"}}}}},
                  {"status",
                   {{"phase", "Pending"},
                    {"conditions", json::array({{{"type", "PodScheduled"},
                                                 {"status", "False"},
                                                 {"reason", "Unschedulable"},
                                                 {"message", "0/3 nodes are available: 3 Insufficient memory."}}})}}}};
  s = compute_state("orders", deployment(1), json::array({rs("a", 1)}), json::array({pending}));
  CHECK(s.reason == "waiting for cluster resources: 0/3 nodes are available: 3 Insufficient memory.");
}

TEST_CASE("an old version's crash does not fail the new one", "[status]") {
  json cs = {{"restartCount", 9}, {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}};
  auto s = compute_state("orders", deployment(1), json::array({rs("a", 1), rs("b", 2)}),
                         json::array({pod("old", "a", false, cs), pod("new", "b", true)}));
  CHECK(s.phase == Phase::Updating);
  CHECK(s.reason.empty());
}

TEST_CASE("a crash because a -javaagent jar is not in the image names the jar", "[status]") {
  // What a JRE 17 base without the SkyWalking agent printed on the kit for an app with tracing on.
  const std::vector<std::string> tail = {
      "Picked up JAVA_TOOL_OPTIONS: -XX:MaxRAMPercentage=75.0 -javaagent:/skywalking/agent/skywalking-agent.jar",
      "Error opening zip file or JAR manifest missing : /skywalking/agent/skywalking-agent.jar",
      "Error occurred during initialization of VM", "agent library failed to init: instrument"};
  CHECK(missing_java_agent(tail) == "/skywalking/agent/skywalking-agent.jar");
  // Other crashes, and the first line without the JVM's verdict, are not it.
  CHECK(missing_java_agent({}).empty());
  CHECK(missing_java_agent({"Exception in thread \"main\" java.lang.IllegalStateException: boom",
                            "\tat orders.Main.main(Main.java:3)"})
            .empty());
  CHECK(missing_java_agent({tail[0], tail[1]}).empty());
  CHECK(missing_java_agent({"agent library failed to init: instrument"}).empty());
}
