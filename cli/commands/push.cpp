// wb push jar: a jar becomes a layered image in a registry (or an OCI layout / oci-archive), and
// the app rolls to it by digest.
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <optional>
#include <ostream>

#include "commands/app_common.hpp"
#include "commands/commands.hpp"
#include "commands/gc.hpp"
#include "commands/gitops_flags.hpp"
#include "output.hpp"
#include "util/fs.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "util/time.hpp"
#include "workbench/delivery/push_jar.hpp"

namespace wb::cli::commands {

using util::Error;
using util::ErrorCode;
namespace wbw = wb::workbench;
namespace img = wb::image;

namespace {

struct PushJarOptions {
  wbw::PushRequest request;
  bool no_deploy = false;
  std::string timeout;  // "" = workbench::kRolloutTimeout
  std::string dotenv_out;
  int parallel = wbw::kPushParallel;
  GitopsFlags gitops;
};

std::string human_bytes(int64_t n) {
  if (n < 0) return "?";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string short_digest(const std::string& d) {
  auto colon = d.find(':');
  return colon == std::string::npos ? d : d.substr(0, colon + 1 + 12);
}

// Progress on stderr: one line per finished layer (fate, size, rate). On a terminal a status line
// below them is redrawn with the bytes in flight; in GitLab CI (or -v) lines only, no redraws.
class PushProgress final : public img::PushObserver {
 public:
  PushProgress(Context& ctx, bool redraw) : ctx_(ctx), redraw_(redraw) {}
  ~PushProgress() override { clear(); }

  void on_step(std::string_view step) override {
    clear();
    ctx_.err() << paint(ctx_.color_err(), "dim", std::string(step)) << '\n';
  }
  void on_layer_started(const std::string& name, const std::string& digest, int64_t size) override {
    Flight& f = flights_[key(name, digest)];
    f.start = ctx_.ticks();
    f.total = size;
    f.done = 0;
  }
  void on_layer_bytes(const std::string& name, int64_t done, int64_t total) override {
    if (!redraw_) return;
    // Application layers have unique names; base layers are all "base" (their bytes are summed
    // under the first one in flight, which is close enough for a status line).
    for (auto& [k, f] : flights_) {
      if (k.rfind(name + "\n", 0) != 0 || f.finished) continue;
      f.done = done;
      if (total >= 0) f.total = total;
      break;
    }
    auto now = ctx_.ticks();
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    int64_t sent = 0;
    int active = 0;
    for (const auto& [k, f] : flights_)
      if (!f.finished) {
        sent += f.done;
        ++active;
      }
    ctx_.err() << "\r\033[K"
               << fmt::format("  {} layer{} in flight, {} sent", active, active == 1 ? "" : "s", human_bytes(sent))
               << std::flush;
    drawn_ = true;
  }
  void on_layer_finished(const img::LayerReport& r) override {
    clear();
    auto it = flights_.find(key(r.name, r.from_base ? r.digest : ""));
    std::string rate;
    if (it != flights_.end()) {
      it->second.finished = true;
      if (r.fate == img::LayerFate::Uploaded || r.fate == img::LayerFate::Copied) {
        double secs = std::chrono::duration<double>(ctx_.ticks() - it->second.start).count();
        rate = fmt::format("in {:.1f}s", secs);
        if (secs > 0.05)
          rate += fmt::format(", {}/s", human_bytes(static_cast<int64_t>(static_cast<double>(r.size) / secs)));
      }
    }
    std::string fate = img::fate_name(r.fate);
    const char* color = r.fate == img::LayerFate::Uploaded || r.fate == img::LayerFate::Copied ? "green" : "dim";
    ctx_.err() << fmt::format("  {:<22} {} {:>10}  {}{}", r.name,
                              paint(ctx_.color_err(), color, fmt::format("{:<8}", fate)), human_bytes(r.size),
                              short_digest(r.digest), rate.empty() ? "" : "  " + rate)
               << '\n';
  }

 private:
  struct Flight {
    std::chrono::steady_clock::time_point start;
    int64_t done = 0;
    int64_t total = -1;
    bool finished = false;
  };
  static std::string key(const std::string& name, const std::string& digest) { return name + "\n" + digest; }
  void clear() {
    if (!drawn_) return;
    ctx_.err() << "\r\033[K" << std::flush;
    drawn_ = false;
  }

  Context& ctx_;
  bool redraw_;
  bool drawn_ = false;
  std::map<std::string, Flight> flights_;
  std::chrono::steady_clock::time_point last_draw_{};
};

json push_document(const wbw::PushPlan& plan, const img::PushResult& r, const std::string& reference) {
  json layers = json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"name", l.name}, {"digest", l.digest}, {"size", l.size}, {"fate", img::fate_name(l.fate)}});
  json platforms = json::array();
  for (const auto& p : r.platforms) platforms.push_back({{"platform", p.platform}, {"digest", p.digest}});
  return {{"digest", r.digest}, {"reference", reference}, {"target", plan.target.str()}, {"mediaType", r.media_type},
          {"tags", r.tags},     {"platforms", platforms}, {"base", plan.base.str()},     {"app", plan.app},
          {"layers", layers},   {"deployed", nullptr}};
}

Status write_dotenv(const std::string& file, const wbw::PushPlan& plan, const img::PushResult& r,
                    const std::string& reference) {
  std::string text = fmt::format("WB_IMAGE={}\nWB_IMAGE_DIGEST={}\nWB_IMAGE_TAG={}\n", reference, r.digest,
                                 r.tags.empty() ? plan.tags.front() : r.tags.front());
  auto st = util::write_file_atomic(file, text);
  if (!st) return st.error().with_context("--dotenv-out");
  return {};
}

// GitOps: the checkout must hold the app (and be clean) before anything is uploaded.
Result<std::optional<GitopsApp>> open_gitops(const PushJarOptions& o, const wbw::PushPlan& plan, Context& ctx) {
  std::optional<GitopsApp> gitops;
  if (!o.gitops.on()) return gitops;
  if (o.no_deploy) return Error(ErrorCode::Usage, "--no-deploy and --gitops contradict each other", "pick one");
  if (plan.target.kind != wbw::PushTarget::Kind::Registry)
    return Error(ErrorCode::Usage, fmt::format("--gitops needs a registry target, not {}", plan.target.str()),
                 "the cluster pulls the image from a registry: set registry.host or pass --to REGISTRY/REPO");
  WB_ASSIGN_OR_RETURN(auto target, open_gitops_app(ctx, o.gitops, plan.app));
  gitops.emplace(std::move(target));
  return gitops;
}

// Where the app is rolled (no client when it is not).
struct DeployTarget {
  std::string ns;
  kube::Client* client = nullptr;
};

// Deploying: the app must exist before anything is uploaded.
Result<DeployTarget> find_app_to_deploy(const wbw::PushPlan& plan, Context& ctx) {
  DeployTarget t;
  WB_ASSIGN_OR_RETURN(t.ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(t.client, ctx.kube());
  auto app = wbw::read_app(*t.client, t.ns, plan.app);
  if (!app) {
    Error e = wbw::refused_in_workspace(std::move(app).error(), t.ns, /*changing=*/true);  // to deploy
    if (e.code == ErrorCode::NotFound)
      e.hint = fmt::format("run `wb app create {}` first, or pass --no-deploy to push only", plan.app);
    return e;
  }
  return t;
}

Result<img::PushResult> push_image(const PushJarOptions& o, const wbw::PushPlan& plan, const wbw::Settings* settings,
                                   bool lines, Context& ctx) {
  // Progress: lines in GitLab CI even without a terminal; a redrawn status line only on one.
  PushProgress progress(ctx, ctx.show_progress() && !ctx.in_gitlab_ci() && ctx.global.verbose == 0);
  wbw::PushRun run;
  run.make_registry = [&ctx, settings, &plan] { return ctx.registry(*settings, plan.target, ctx.http_options()); };
  run.cache_file = wbw::layer_cache_file(ctx.env);
  run.parallel = o.parallel;
  run.observer = lines ? &progress : nullptr;
  LogSection section(ctx, "wb_push_jar", fmt::format("Pushing {} to {}", plan.jar_name, plan.target.str()));
  return wbw::push_plan(plan, run);
}

// Rolls the app to the pushed image and waits for it (unless it is stopped); what happened goes into doc.
Status roll_app(const PushJarOptions& o, const wbw::PushPlan& plan, const img::PushResult& result,
                const DeployTarget& to, const wbw::Settings& settings, bool lines, Context& ctx, json& doc) {
  const std::string& ns = to.ns;
  kube::Client* client = to.client;
  LogSection section(ctx, "wb_deploy",
                     fmt::format("Rolling app {} in workspace {} to {}", plan.app, ns, short_digest(result.digest)));
  const std::string image = plan.target.ref.with_digest(result.digest);
  auto change = change_info(ctx, *client, wbw::push_change_cause(plan));
  WB_ASSIGN_OR_RETURN(auto deployed, wbw::deploy_image(*client, ns, plan.app, image, plan, change));
  std::string state_words;
  std::string revision;
  if (deployed.stopped) {
    if (!ctx.global.quiet)
      ctx.err() << fmt::format("note: {} is stopped; start it with `wb app start {}`\n", plan.app, plan.app);
    auto state = wbw::read_state(*client, ns, plan.app);
    state_words = "Stopped";
    if (state) revision = state->revision;
  } else {
    WaitFlags flags;
    flags.timeout = o.timeout;
    auto state = wait_for_app(ctx, *client, ns, plan.app, flags);
    if (!state) return std::move(state).error();
    state_words = state->summary();
    revision = state->revision;
    if (lines)
      ctx.err() << fmt::format("{}: {}{}\n", plan.app, state_words,
                               deployed.changed ? "" : " (it ran this image already)");
  }
  doc["deployed"] = {{"app", plan.app},
                     {"workspace", ns},
                     {"image", image},
                     {"changed", deployed.changed},
                     {"revision", number_or_null(revision)},
                     {"state", state_words}};
  // retention.auto: clean up after a push that deployed (the cluster says what is in use).
  if (settings.get_bool("retention.auto"))
    doc["retention"] = retention_after_push(ctx, *client, ns, plan.app, result.digest);
  return {};
}

Status run_push_jar(const PushJarOptions& o, Context& ctx) {
  WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
  wbw::PushEnvironment env{ctx.env, ctx.cwd, wbw::git_answers(ctx.git_runner(), ctx.cwd)};
  WB_ASSIGN_OR_RETURN(wbw::PushPlan plan, wbw::plan_push(o.request, *settings, env));
  for (const auto& n : plan.notes)
    if (!ctx.global.quiet) ctx.err() << "note: " << n << '\n';
  for (const auto& w : plan.warnings) ctx.warn(w);

  WB_ASSIGN_OR_RETURN(std::optional<GitopsApp> gitops, open_gitops(o, plan, ctx));
  const bool deploy = !gitops && !o.no_deploy && plan.target.kind == wbw::PushTarget::Kind::Registry;
  DeployTarget to;
  if (deploy) {
    WB_ASSIGN_OR_RETURN(to, find_app_to_deploy(plan, ctx));
  }

  const bool lines = !ctx.global.quiet && !ctx.global.machine_output() && (ctx.show_progress() || ctx.in_gitlab_ci());
  WB_ASSIGN_OR_RETURN(img::PushResult result, push_image(o, plan, settings, lines, ctx));
  const std::string reference = wbw::pushed_reference(plan, result);
  if (!o.dotenv_out.empty()) WB_TRY(write_dotenv(o.dotenv_out, plan, result, reference));

  const auto format = ctx.global.format();
  const bool document = format == OutputFormat::Json || format == OutputFormat::Yaml;
  if (!document) ctx.out() << reference << '\n' << std::flush;
  json doc = push_document(plan, result, reference);
  if (gitops) {
    WB_ASSIGN_OR_RETURN(doc["gitops"], gitops_set_image(ctx, *gitops, plan, reference, result.digest));
  }
  if (deploy) WB_TRY(roll_app(o, plan, result, to, *settings, lines, ctx, doc));

  if (format == OutputFormat::Json) print_json(ctx, doc);
  if (format == OutputFormat::Yaml) print_yaml(ctx, doc);
  return {};
}

constexpr const char* kPushJarHelp =
    R"(Target (--to): an image repository (registry/project/app), oci:DIR[:TAG] (an OCI image layout) or tar:FILE (an oci-archive, for `podman load`). Default: <registry.host>/<registry.project>/<app> from the profile, else oci:./build/wb-image.
Tags: --tag, else a tag written in --to, else CI_COMMIT_SHORT_SHA, else the jar's Implementation-Version, else latest.
App: --app, else app.name in wb.yaml, else the jar's Implementation-Title or file name.
Base: --base, else the profile's baseImages entry for the smallest Java version the jar runs on; 'scratch' is an empty image (the default for local targets when the profile has no baseImages). oci:DIR:TAG reads a base from a local layout.
Credentials: WB_REGISTRY_USER/WB_REGISTRY_PASSWORD when set, then podman's auth.json and docker's config.json (and credential helpers). registry.ca and registry.insecure come from the profile.
Labels org.opencontainers.image.* come from CI variables or git; SOURCE_DATE_EPOCH sets the layers' times and 'created'.
Only registry targets are deployed; a stopped app gets the new image and stays stopped. Exit 6 when the app does not become ready in --timeout, with the reason.
Prints the image reference (registry/repo@sha256:...; for local targets oci:DIR:TAG or oci-archive:FILE:TAG) on stdout. See `man wb-push` for more.)";

}  // namespace

void register_push(CLI::App& app, Context& ctx, Action& action) {
  auto* noun = add_verb(app, "push", "Push what you built: a jar becomes an image, and the app rolls to it");
  auto o = std::make_shared<PushJarOptions>();
  auto* v = add_verb(*noun, "jar",
                     "Build a layered image from a jar without Docker, push it, and roll the app to it by digest");
  v->footer(kPushJarHelp);
  v->add_option("jar", o->request.jar, "The jar to push (a plain jar with Main-Class, or a Spring Boot jar)")
      ->required()
      ->type_name("JAR");
  v->add_option("--app", o->request.app, "App to deploy to and name the repository after (default: see above)")
      ->type_name("NAME");
  v->add_option("-t,--tag", o->request.tags, "Tag the image (repeatable)")->type_name("TAG")->allow_extra_args(false);
  v->add_option("--to", o->request.to, "Where to push: REGISTRY/REPO, oci:DIR[:TAG] or tar:FILE")->type_name("TARGET");
  v->add_option("--base", o->request.base, "Base image: a reference, oci:DIR:TAG, or scratch (default: the profile's)")
      ->type_name("IMAGE");
  v->add_option("--platform", o->request.platform,
                "Platforms of a multi-platform base to build for: all (default) or e.g. linux/amd64,linux/arm64")
      ->type_name("LIST");
  v->add_option("--jvm-flag", o->request.jvm_flags,
                "A fixed JVM flag for the entrypoint, e.g. -XX:+UseZGC (repeatable)")
      ->type_name("FLAG")
      ->allow_extra_args(false);
  v->add_option("--env", o->request.env, "Environment variable NAME=VALUE in the image (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  v->add_option("--compression", o->request.compression,
                "How layers are stored: auto (gzip those that shrink), gzip or none (default: the profile's "
                "push.compression, else auto)")
      ->type_name("MODE")
      ->check(CLI::IsMember({"auto", "gzip", "none"}));
  v->add_flag("--no-deploy", o->no_deploy, "Push only; leave the app as it is");
  v->add_option("--timeout", o->timeout,
                "Give up waiting for the rollout after this long, exit 6 (default " +
                    util::format_age(wbw::kRolloutTimeout) + ")")
      ->type_name("DURATION")
      ->check(duration_error);
  v->add_option("--dotenv-out", o->dotenv_out,
                "Write WB_IMAGE, WB_IMAGE_DIGEST and WB_IMAGE_TAG to FILE (a GitLab dotenv report)")
      ->type_name("FILE");
  v->add_option("--parallel", o->parallel,
                "Layers uploaded at once (default " + std::to_string(wbw::kPushParallel) + ")")
      ->type_name("N")
      ->check([](const std::string& s) {
        return util::parse_int(s, "", 1, 16) ? std::string() : "must be between 1 and 16, not '" + s + "'";
      });
  add_gitops_flags(*v, o->gitops);
  v->callback([o, &ctx, &action] { action = [o, &ctx] { return run_push_jar(*o, ctx); }; });
}

}  // namespace wb::cli::commands
