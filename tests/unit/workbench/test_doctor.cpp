// `wb doctor`'s pieces that need no server: the clock verdict, and how failures make
// the checks after them skip.
#include <catch2/catch.hpp>

#include "http/http.hpp"
#include "workbench/platform/doctor.hpp"

using namespace wb::workbench;
using wb::util::Error;
using wb::util::ErrorCode;
using namespace std::chrono_literals;

namespace {

Settings settings_with(const std::map<std::string, std::string>& values) {
  Settings s;
  for (const auto& [k, v] : values) s.set(k, {v, Source::Profile, "test"});
  return s;
}

const CheckResult& check(const DoctorReport& r, const std::string& id) {
  for (const auto& c : r.checks)
    if (c.id == id) return c;
  FAIL("no check " << id);
  throw 0;
}

}  // namespace

TEST_CASE("the clock check warns beyond 30 s and fails beyond 5 minutes") {
  const auto server = *wb::http::parse_http_date("Wed, 25 Nov 2026 18:00:00 GMT");
  auto at = [&](std::chrono::seconds off) { return clock_check(server, server + off, 30s, 300s); };
  CHECK(at(0s).state == CheckState::Ok);
  CHECK(at(0s).detail == "same time as the API server");
  CHECK(at(12s).state == CheckState::Ok);
  CHECK(at(12s).detail == "12 s ahead of the API server");
  auto warn = at(-90s);
  CHECK(warn.state == CheckState::Warn);
  CHECK(warn.detail.find("behind the API server") != std::string::npos);
  CHECK(warn.hint.find("NTP") != std::string::npos);
  auto fail = at(std::chrono::hours(2));
  CHECK(fail.state == CheckState::Fail);
  CHECK(fail.detail.find("2h") != std::string::npos);
  CHECK(clock_check(std::nullopt, server, 30s, 300s).state == CheckState::Skip);
}

TEST_CASE("a missing kubeconfig skips the cluster checks; no registry skips the registry checks") {
  auto settings = settings_with({{"workspace", "shop-dev"}});
  DoctorInputs in;
  in.settings = &settings;
  in.load_kube = []() -> wb::util::Result<wb::kube::RestConfig> {
    return Error(ErrorCode::NotFound, "no kubeconfig found", "ask for one");
  };
  in.make_kube = [](wb::kube::RestConfig) -> std::unique_ptr<wb::kube::Client> {
    FAIL("no client may be built without a kubeconfig");
    return nullptr;
  };
  in.make_registry = []() -> std::unique_ptr<wb::oci::Registry> {
    FAIL("no registry client may be built without registry.host");
    return nullptr;
  };
  auto report = run_doctor(in);
  REQUIRE(report.first_failure());
  CHECK(report.first_failure()->id == "kubeconfig");
  CHECK(report.first_failure()->code == ErrorCode::NotFound);
  CHECK(check(report, "kubeconfig").hint == "ask for one");
  for (const char* id : {"server", "identity", "workspace", "clock"}) {
    CHECK(check(report, id).state == CheckState::Skip);
    CHECK(check(report, id).detail.rfind("skipped: needs", 0) == 0);
  }
  CHECK(check(report, "registry").state == CheckState::Skip);
  CHECK(check(report, "registry").detail.find("registry.host") != std::string::npos);
  CHECK(check(report, "base-image").state == CheckState::Skip);
}

TEST_CASE("a broken profile fails first and skips what needs it") {
  DoctorInputs in;
  in.settings = Error(ErrorCode::Usage, "t.yaml:3:1: bad indentation");
  in.load_kube = []() -> wb::util::Result<wb::kube::RestConfig> { return Error(ErrorCode::NotFound, "none"); };
  auto report = run_doctor(in);
  CHECK(report.first_failure()->id == "profile");
  CHECK(report.first_failure()->code == ErrorCode::Usage);
  CHECK(check(report, "registry").state == CheckState::Skip);
  CHECK(check(report, "push").state == CheckState::Skip);
}
