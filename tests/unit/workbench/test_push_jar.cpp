// `wb push jar`'s decisions (target, base, tags, app name, labels) and its local pushes (an OCI
// layout and an oci-archive on an empty base: no registry, no network), and pointing a Deployment
// at the pushed image.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "fake_process_runner.hpp"
#include "jar/fixture_jars.hpp"
#include "oci/layout.hpp"
#include "workbench/delivery/push_jar.hpp"

using namespace wb::workbench;
using nlohmann::json;
using wb::util::ErrorCode;
namespace fs = std::filesystem;

namespace {

Settings settings_with(const std::map<std::string, std::string>& values) {
  Settings s;
  for (const auto& info : known_settings())
    if (!info.default_value.empty())
      s.set(std::string(info.key), {std::string(info.default_value), Source::Default, "built-in"});
  for (const auto& [k, v] : values) s.set(k, {v, Source::Profile, "test"});
  return s;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "wb-push-unit-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

PushEnvironment environment(const fs::path& cwd, std::map<std::string, std::string> vars = {},
                            std::map<std::string, std::string> git = {}) {
  PushEnvironment e;
  e.cwd = cwd;
  e.env = [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  e.git = [git](const std::vector<std::string>& args) -> std::optional<std::string> {
    std::string key;
    for (const auto& a : args) key += (key.empty() ? "" : " ") + a;
    auto it = git.find(key);
    if (it == git.end()) return std::nullopt;
    return it->second;
  };
  return e;
}

PushRequest request_for(const std::string& jar) {
  PushRequest r;
  r.jar = wb::test::fixture_jar(jar);
  return r;
}

}  // namespace

TEST_CASE("parse_target: registries, oci layouts and tars") {
  auto reg = parse_target("127.0.0.1:5000/shop/orders", "/w");
  REQUIRE(reg.ok());
  CHECK(reg->kind == PushTarget::Kind::Registry);
  CHECK(reg->ref.registry == "127.0.0.1:5000");
  CHECK(reg->ref.repository == "shop/orders");
  CHECK(reg->explicit_tag.empty());
  CHECK(reg->str() == "127.0.0.1:5000/shop/orders");

  auto tagged = parse_target("harbor.example.com/shop/orders:1.2", "/w");
  REQUIRE(tagged.ok());
  CHECK(tagged->explicit_tag == "1.2");
  CHECK(tagged->ref.tag.empty());

  auto layout = parse_target("oci:build/img:v1", "/w");
  REQUIRE(layout.ok());
  CHECK(layout->kind == PushTarget::Kind::Layout);
  CHECK(layout->path == "/w/build/img");
  CHECK(layout->explicit_tag == "v1");
  CHECK(parse_target("oci:/abs/dir", "/w")->path == "/abs/dir");
  CHECK(parse_target("oci:/abs/dir", "/w")->explicit_tag.empty());

  auto tar = parse_target("tar:out/orders.tar", "/w");
  REQUIRE(tar.ok());
  CHECK(tar->kind == PushTarget::Kind::Archive);
  CHECK(tar->path == "/w/out/orders.tar");
  CHECK(tar->str() == "tar:/w/out/orders.tar");

  CHECK(parse_target("oci:", "/w").error().code == ErrorCode::Usage);
  CHECK(parse_target("tar:", "/w").error().code == ErrorCode::Usage);
  CHECK(parse_target("Bad Name", "/w").error().code == ErrorCode::Usage);
  CHECK(parse_target("reg.io/a/b@sha256:" + std::string(64, 'a'), "/w").error().code == ErrorCode::Usage);
}

TEST_CASE("parse_base: scratch, local layouts and references") {
  CHECK(parse_base("scratch", "/w")->kind == BaseSource::Kind::Scratch);
  auto layout = parse_base("oci:bases:17", "/w");
  REQUIRE(layout.ok());
  CHECK(layout->kind == BaseSource::Kind::Layout);
  CHECK(layout->path == "/w/bases");
  CHECK(layout->ref.tag == "17");
  CHECK(layout->str() == "oci:/w/bases:17");
  CHECK(parse_base("oci:/b", "/w")->ref.tag == "latest");
  auto by_digest = parse_base("oci:/b@sha256:" + std::string(64, 'c'), "/w");
  REQUIRE(by_digest.ok());
  CHECK(by_digest->ref.digest == "sha256:" + std::string(64, 'c'));
  auto reg = parse_base("harbor.example.com/base/java:17", "/w");
  REQUIRE(reg.ok());
  CHECK(reg->kind == BaseSource::Kind::Registry);
  CHECK(reg->str() == "harbor.example.com/base/java:17");
}

TEST_CASE("choose_base_image: the smallest Java version that runs the classes") {
  std::map<std::string, std::string> bases = {{"11", "j:11"}, {"17", "j:17"}, {"21", "j:21"}, {"8", "j:8"}};
  CHECK(*choose_base_image(bases, 17, "orders.jar") == "j:17");
  CHECK(*choose_base_image(bases, 12, "orders.jar") == "j:17");
  CHECK(*choose_base_image(bases, 8, "orders.jar") == "j:8");
  CHECK(*choose_base_image(bases, 0, "orders.jar") == "j:8");
  auto too_new = choose_base_image({{"11", "j:11"}, {"17", "j:17"}}, 21, "orders.jar");
  REQUIRE_FALSE(too_new.ok());
  CHECK(too_new.error().code == ErrorCode::Usage);
  CHECK(too_new.error().message == "orders.jar needs Java 21 but the profile only has base images for 11, 17");
  CHECK(choose_base_image({}, 17, "orders.jar").error().code == ErrorCode::Usage);
}

TEST_CASE("names, tags and URLs made from what a jar and git say") {
  CHECK(app_name_from("Orders_Service") == "orders-service");
  CHECK(app_name_from("plain-app") == "plain-app");
  CHECK(app_name_from("2fast") == "fast");
  CHECK(app_name_from("--") == "");
  CHECK(app_name_from(std::string(80, 'a')).size() == kMaxAppNameLength);
  CHECK(tag_from_version("1.2.0+build.5") == "1.2.0-build.5");
  CHECK(tag_from_version("") == "");
  CHECK(is_valid_tag("0.0.1-SNAPSHOT"));
  CHECK_FALSE(is_valid_tag("-x"));
  CHECK_FALSE(is_valid_tag(std::string(129, 'a')));
  CHECK(strip_url_credentials("https://ci-token:s3cret@gitlab.example.com/shop/orders.git") ==
        "https://gitlab.example.com/shop/orders.git");
  CHECK(strip_url_credentials("https://gitlab.example.com/a@b/x.git") == "https://gitlab.example.com/a@b/x.git");
  CHECK(strip_url_credentials("git@gitlab.example.com:shop/orders.git") == "git@gitlab.example.com:shop/orders.git");
}

TEST_CASE("plan_push: defaults from the jar, the profile, CI and git") {
  TempDir cwd;
  SECTION("registry from the profile, tag from the jar's version, labels from git") {
    auto s = settings_with({{"registry.host", "harbor.example.com"},
                            {"registry.project", "shop"},
                            {"baseImages.17", "harbor.example.com/base/java:17"},
                            {"baseImages.21", "harbor.example.com/base/java:21"}});
    auto plan =
        plan_push(request_for("boot.jar"), s,
                  environment(cwd.path, {{"SOURCE_DATE_EPOCH", "1700000000"}},
                              {{"config --get remote.origin.url", "https://u:p@git.example.com/shop/orders.git"},
                               {"rev-parse --verify -q HEAD", "0123456789abcdef"}}));
    REQUIRE(plan.ok());
    CHECK(plan->app == "boot-app");
    CHECK(plan->target.kind == PushTarget::Kind::Registry);
    CHECK(plan->target.str() == "harbor.example.com/shop/boot-app");
    CHECK(plan->tags == std::vector<std::string>{"0.0.1-SNAPSHOT"});
    CHECK(plan->base.str() == "harbor.example.com/base/java:17");
    CHECK(plan->image.source_date_epoch == 1700000000);
    CHECK(plan->image.labels.at("org.opencontainers.image.source") == "https://git.example.com/shop/orders.git");
    CHECK(plan->image.labels.at("org.opencontainers.image.revision") == "0123456789abcdef");
    CHECK(plan->image.labels.at("org.opencontainers.image.version") == "0.0.1-SNAPSHOT");
    CHECK(plan->image.labels.at("org.opencontainers.image.created") == "2023-11-14T22:13:20Z");
    CHECK(push_change_cause(*plan) == "push boot.jar 0.0.1-SNAPSHOT (commit 01234567)");
  }
  SECTION("GitLab CI variables win over git; flags win over everything") {
    auto s = settings_with({{"registry.host", "harbor.example.com"}, {"baseImages.17", "b:17"}});
    auto env = environment(cwd.path,
                           {{"CI_COMMIT_SHORT_SHA", "abcd1234"},
                            {"CI_COMMIT_SHA", "abcd1234ffff"},
                            {"CI_PROJECT_URL", "https://gitlab.example.com/shop/orders"},
                            {"CI_COMMIT_TAG", "v1.2.0"},
                            {"CI_PIPELINE_URL", "https://gitlab.example.com/p/9"}},
                           {{"rev-parse --verify -q HEAD", "not-this"}});
    auto plan = plan_push(request_for("plain.jar"), s, env);
    REQUIRE(plan.ok());
    CHECK(plan->target.str() == "harbor.example.com/plain-app");
    CHECK(plan->tags == std::vector<std::string>{"abcd1234"});
    CHECK(plan->image.labels.at("org.opencontainers.image.revision") == "abcd1234ffff");
    CHECK(plan->image.labels.at("org.opencontainers.image.version") == "v1.2.0");
    CHECK(push_change_cause(*plan) == "push plain.jar v1.2.0 (commit abcd1234, https://gitlab.example.com/p/9)");
    CHECK(plan->image.labels.count("dev.wb.ci.job-url") == 0);

    auto ci = environment(cwd.path, {{"CI_COMMIT_SHA", "abcd1234ffff"},
                                     {"CI_COMMIT_REF_NAME", "main"},
                                     {"CI_PROJECT_PATH", "shop/orders"},
                                     {"CI_PIPELINE_URL", "https://gitlab.example.com/shop/orders/-/pipelines/9"},
                                     {"CI_JOB_URL", "https://gitlab.example.com/shop/orders/-/jobs/31"}});
    auto in_ci = plan_push(request_for("plain.jar"), s, ci);
    REQUIRE(in_ci.ok());
    CHECK(in_ci->image.labels.at("dev.wb.ci.project") == "shop/orders");
    CHECK(in_ci->image.labels.at("dev.wb.ci.ref") == "main");
    CHECK(in_ci->image.labels.at("dev.wb.ci.pipeline-url") == "https://gitlab.example.com/shop/orders/-/pipelines/9");
    CHECK(in_ci->image.labels.at("dev.wb.ci.job-url") == "https://gitlab.example.com/shop/orders/-/jobs/31");
    CHECK(push_change_cause(*in_ci) ==
          "push plain.jar 1.0.0 (shop/orders@main, commit abcd1234, "
          "https://gitlab.example.com/shop/orders/-/pipelines/9, "
          "job https://gitlab.example.com/shop/orders/-/jobs/31)");

    auto req = request_for("plain.jar");
    req.app = "orders";
    req.tags = {"t1", "t2", "t1"};
    req.to = "reg.example.com/x/orders";
    req.base = "scratch";
    req.env = {"A=1"};
    req.platform = "linux/amd64";
    auto flagged = plan_push(req, s, env);
    REQUIRE(flagged.ok());
    CHECK(flagged->app == "orders");
    CHECK(flagged->tags == std::vector<std::string>{"t1", "t2"});
    CHECK(flagged->target.str() == "reg.example.com/x/orders");
    CHECK(flagged->base.kind == BaseSource::Kind::Scratch);
    CHECK(flagged->image.env == std::vector<std::string>{"A=1"});
    CHECK(flagged->image.platforms == std::vector<std::string>{"linux/amd64"});
  }
  SECTION("no registry: the local layout and an empty base, with a note and a warning") {
    auto plan = plan_push(request_for("plain.jar"), settings_with({}), environment(cwd.path));
    REQUIRE(plan.ok());
    CHECK(plan->target.kind == PushTarget::Kind::Layout);
    CHECK(plan->target.local_default);
    CHECK(plan->target.path == cwd.path / "build" / "wb-image");
    CHECK(plan->base.kind == BaseSource::Kind::Scratch);
    CHECK(plan->notes.size() == 1);
    CHECK_FALSE(plan->warnings.empty());
    CHECK(plan->tags == std::vector<std::string>{"1.0.0"});
  }
  SECTION("errors before anything is uploaded") {
    auto reg = settings_with({{"registry.host", "h.example.com"}});
    auto none = plan_push(request_for("plain.jar"), reg, environment(cwd.path));
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == ErrorCode::Usage);
    CHECK(none.error().message.find("no base image") != std::string::npos);
    CHECK(plan_push(request_for("orders.txt"), reg, environment(cwd.path)).error().code == ErrorCode::Usage);
    CHECK(plan_push(request_for("nomain.jar"), reg, environment(cwd.path)).error().code == ErrorCode::Usage);
    CHECK(plan_push(request_for("absent.jar"), reg, environment(cwd.path)).error().code == ErrorCode::NotFound);
    auto bad_env = request_for("plain.jar");
    bad_env.env = {"=x"};
    CHECK(plan_push(bad_env, settings_with({}), environment(cwd.path)).error().code == ErrorCode::Usage);
    auto bad_app = request_for("plain.jar");
    bad_app.app = "Orders";
    CHECK(plan_push(bad_app, settings_with({}), environment(cwd.path)).error().code == ErrorCode::Usage);
    CHECK(plan_push(request_for("plain.jar"), settings_with({}), environment(cwd.path, {{"SOURCE_DATE_EPOCH", "x"}}))
              .error()
              .code == ErrorCode::Usage);
  }
  SECTION("wb.yaml names the app") {
    REQUIRE(wb::util::write_file_atomic(cwd.path / "wb.yaml", "app:\n  name: shipping\n  port: 9090\n").ok());
    auto plan = plan_push(request_for("plain.jar"), settings_with({}), environment(cwd.path));
    REQUIRE(plan.ok());
    CHECK(plan->app == "shipping");
    CHECK(plan->image.ports == std::vector<std::string>{"9090/tcp"});
  }
}

TEST_CASE("push_plan to an OCI layout and an oci-archive on an empty base") {
  TempDir cwd;
  auto req = request_for("boot.jar");
  req.to = "oci:" + (cwd.path / "img").string();
  req.tags = {"v1"};
  auto plan = plan_push(req, settings_with({}), environment(cwd.path));
  REQUIRE(plan.ok());
  PushRun run;
  run.cache_file = cwd.path / "cache.json";
  auto first = push_plan(*plan, run);
  REQUIRE(first.ok());
  CHECK(pushed_reference(*plan, *first) == "oci:" + (cwd.path / "img").string() + ":v1");
  CHECK(first->layers.size() == 5);  // no base layers
  for (const auto& l : first->layers) CHECK(l.fate == wb::image::LayerFate::Uploaded);
  auto again = push_plan(*plan, run);
  REQUIRE(again.ok());
  CHECK(again->digest == first->digest);
  for (const auto& l : again->layers) CHECK(l.fate == wb::image::LayerFate::Skipped);
  auto layout = wb::oci::OciLayout::open(cwd.path / "img", false);
  REQUIRE(layout.ok());
  auto index = (*layout)->index();
  REQUIRE(index.ok());
  REQUIRE(index->size() == 1);
  CHECK(index->front().digest == first->digest);

  req.to = "tar:" + (cwd.path / "out" / "boot.tar").string();
  auto tar_plan = plan_push(req, settings_with({}), environment(cwd.path));
  REQUIRE(tar_plan.ok());
  auto tar = push_plan(*tar_plan, run);
  REQUIRE(tar.ok());
  CHECK(tar->digest == first->digest);
  CHECK(fs::exists(cwd.path / "out" / "boot.tar"));
  CHECK(std::distance(fs::directory_iterator(cwd.path / "out"), fs::directory_iterator()) == 1);
  TempDir unpacked;
  REQUIRE(wb::oci::extract_oci_archive(cwd.path / "out" / "boot.tar", unpacked.path / "l").ok());
  auto from_tar = wb::oci::OciLayout::open(unpacked.path / "l", false);
  REQUIRE(from_tar.ok());
  CHECK((*from_tar)->index()->front().digest == first->digest);
}

TEST_CASE("set_app_image: the app's container, the jar and the version") {
  json d = {{"metadata", {{"name", "orders"}, {"labels", {{"app", "orders"}}}}},
            {"spec",
             {{"replicas", 0},
              {"template",
               {{"metadata", {{"labels", {{"app", "orders"}}}}},
                {"spec",
                 {{"containers", json::array({{{"name", "sidecar"}, {"image", "envoy:1"}},
                                              {{"name", "orders"}, {"image", "wb.invalid/none:0"}}})}}}}}}}};
  const std::string image = "reg/shop/orders@sha256:" + std::string(64, 'a');
  auto changed = set_app_image(d, "orders", image, "orders.jar", "1.2.0");
  REQUIRE(changed.ok());
  CHECK(*changed);
  CHECK(d["spec"]["template"]["spec"]["containers"][1]["image"] == image);
  CHECK(d["spec"]["template"]["spec"]["containers"][0]["image"] == "envoy:1");
  CHECK(d["metadata"]["annotations"]["wb.dev/jar"] == "orders.jar");
  CHECK(d["spec"]["template"]["metadata"]["annotations"]["wb.dev/jar"] == "orders.jar");
  CHECK(d["metadata"]["labels"]["app.kubernetes.io/version"] == "1.2.0");
  CHECK_FALSE(*set_app_image(d, "orders", image, "orders.jar", "1.2.0"));
  // A version that is no label value is left out.
  json e = d;
  REQUIRE(*set_app_image(e, "orders", image + "x", "orders.jar", "1.2.0 (beta)"));
  CHECK(e["metadata"]["labels"]["app.kubernetes.io/version"] == "1.2.0");
  json none = {{"metadata", {{"name", "orders"}}},
               {"spec", {{"template", {{"spec", {{"containers", json::array()}}}}}}}};
  CHECK(set_app_image(none, "orders", image, "orders.jar", "").error().code == ErrorCode::Failure);
}

TEST_CASE("the git that reads a jar's provenance: never prompting, in the jar's checkout, its answer trimmed",
          "[push]") {
  auto processes = std::make_shared<wb::test::FakeProcessRunner>();
  processes->answer = [](const wb::util::ProcessSpec&) {
    wb::util::ProcessResult r;
    r.exit_code = 0;
    r.out = "  abc123\n";
    return r;
  };
  auto git = git_answers(wb::workbench::gitops::real_git(processes), "/src/orders");
  CHECK(git({"rev-parse", "HEAD"}) == "abc123");
  const auto& spec = processes->runs.at(0);
  CHECK(spec.argv == std::vector<std::string>{"git", "-C", "/src/orders", "rev-parse", "HEAD"});
  CHECK(spec.stdin_from == wb::util::ProcessInput::Null);
  CHECK(std::find(spec.env.begin(), spec.env.end(), std::pair<std::string, std::string>{"GIT_TERMINAL_PROMPT", "0"}) !=
        spec.env.end());
  processes->answer = [](const wb::util::ProcessSpec&) {
    wb::util::ProcessResult r;
    r.exit_code = 128;
    r.out = "ignored";
    return r;
  };
  CHECK_FALSE(git({"rev-parse", "HEAD"}));
  processes->answer = [](const wb::util::ProcessSpec&) {
    wb::util::ProcessResult r;
    r.start_error = ENOENT;
    return r;
  };
  CHECK_FALSE(git({"rev-parse", "HEAD"}));
}
