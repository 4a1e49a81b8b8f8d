// wb completion bash|zsh|fish: the completion script, generated from the command definitions.
// Hidden helpers for the scripts and the docs build:
//   wb __complete KIND [APP]   values for completion, one a line (apps, workspaces, profiles,
//                              contexts; configs APP, revisions APP, routes APP; paths APP:PATH,
//                              the full words for a path in the app's container); prints nothing
//                              on any error, gives up after about two seconds
//   wb __man SRC_DIR OUT_DIR   renders the man pages (man/README.md)
#include "docs/completion.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <ostream>
#include <thread>

#include "commands/commands.hpp"
#include "docs/manpage.hpp"
#include "kube/kubeconfig.hpp"
#include "util/numbers.hpp"
#include "workbench/app/files.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/core/profile.hpp"
#include "workbench/platform/tenancy.hpp"
#include "workbench/versions/config.hpp"
#include "workbench/versions/routes.hpp"

namespace wb::cli::commands {

namespace {

namespace k = wb::kube;
using json = nlohmann::json;
namespace wbw = wb::workbench;

// Ends the process quietly (exit 0, nothing printed) if the work takes longer than `limit`: a
// completion must never hang the shell, whatever a server or a credential plugin does.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) _exit(0);
        }) {}
  ~Deadline() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

std::vector<std::string> item_names(const json& list) {
  std::vector<std::string> names;
  for (const auto& item : list.value("items", json::array())) names.push_back(wbw::fields::str(item, "/metadata/name"));
  return names;
}

// Full words for `word` (APP:PARTIAL) naming something in the app's container, as `wb cp-files`
// and `wb files ls` take them: the entries of PARTIAL's directory (in the first ready replica,
// listed like `wb files ls`) that start with its last component, directories with a '/'. Hidden
// entries only when that component starts with '.'. A bare APP: gives APP:/ (the container's
// working directory is not known here); a relative PARTIAL lists relative to it, as cp-files
// would copy. A symlink that is the only match gets its '/' when it leads to a directory.
Result<std::vector<std::string>> complete_container_paths(Context& ctx, const std::string& word,
                                                          std::chrono::steady_clock::time_point probe_until) {
  auto remote = wbw::parse_remote_path(word);
  if (!remote) {
    // "APP:" is not a path yet; offer the root when APP is one parse_remote_path would take.
    if (!word.empty() && word.back() == ':' && wbw::parse_remote_path(word + "/")) return std::vector{word + "/"};
    return std::vector<std::string>{};
  }
  const auto slash = remote->path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : remote->path.substr(0, slash + 1);
  const std::string stem = slash == std::string::npos ? remote->path : remote->path.substr(slash + 1);
  WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
  WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
  std::string replica;
  WB_ASSIGN_OR_RETURN(auto entries,
                      wbw::list_app_files(*client, ns, remote->app, dir.empty() ? "." : dir, "", "", &replica));
  const std::string head = remote->app + ":" + dir;
  std::vector<const wbw::RemoteEntry*> matches;
  for (const auto& e : entries) {
    if (e.name.rfind(stem, 0) != 0 || e.name.find('\n') != std::string::npos) continue;
    if (e.name[0] == '.' && (stem.empty() || stem[0] != '.')) continue;
    matches.push_back(&e);
  }
  std::vector<std::string> out;
  for (const auto* e : matches) {
    bool is_dir = e->type == 'd';
    if (e->type == 'l' && matches.size() == 1 && ctx.ticks() < probe_until) {
      // `ls DIR/` lists a directory through the link; anything else fails.
      is_dir = static_cast<bool>(wbw::list_app_files(*client, ns, remote->app, dir + e->name + "/", replica, ""));
    }
    out.push_back(head + e->name + (is_dir ? "/" : ""));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> complete_values(Context& ctx, const std::vector<std::string>& args) {
  const std::string kind = args.empty() ? "" : args[0];
  if (kind == "profiles") return wbw::list_profiles(wbw::config_dirs(ctx.env));
  if (kind == "contexts") {
    k::LoadOptions lo;
    lo.explicit_path = ctx.global.kubeconfig;
    lo.kubeconfig_env = ctx.env("KUBECONFIG");
    lo.home = ctx.env("HOME").value_or("");
    WB_ASSIGN_OR_RETURN(auto cfg, k::load_kubeconfig(lo));
    std::vector<std::string> names;
    for (const auto& [name, _] : cfg.contexts) names.push_back(name);
    return names;
  }
  if (kind == "workspaces") {
    // The user's own workspaces (membership records), else every one they may list.
    WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
    WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
    WB_ASSIGN_OR_RETURN(auto list, wbw::tenancy::list_workspaces(*client, settings->text("tenant"), false, false));
    std::vector<std::string> names;
    for (const auto& w : list.rows) names.push_back(w.name);
    return names;
  }
  if (kind == "apps") {
    WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
    WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
    k::ListOptions opts;
    opts.label_selector = fmt::format("{}=wb", wbw::labels::kManagedBy);
    WB_ASSIGN_OR_RETURN(auto list, client->list(k::types::Deployment, ns, opts));
    return item_names(list);
  }
  if (kind == "configs" && args.size() == 2) {
    WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
    WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
    k::ListOptions opts;
    opts.label_selector =
        fmt::format("{}={},{}=wb,{}", wbw::labels::kName, args[1], wbw::labels::kManagedBy, wbw::kConfigVersionLabel);
    WB_ASSIGN_OR_RETURN(auto list, client->list(k::types::ConfigMap, ns, opts));
    std::vector<long> numbers;
    for (const auto& item : list.value("items", json::array())) {
      auto labels = item["metadata"].value("labels", json::object());
      if (auto n = util::parse_int<long>(labels.value(wbw::kConfigVersionLabel, std::string()), ""))
        numbers.push_back(*n);
    }
    std::sort(numbers.begin(), numbers.end());
    std::vector<std::string> out;
    for (long n : numbers) out.push_back(std::to_string(n));
    return out;
  }
  if (kind == "revisions" && args.size() == 2) {
    // What `wb app rollback --to` can go back to: every revision but the one that runs.
    WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
    WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
    WB_ASSIGN_OR_RETURN(auto deployment, wbw::read_app(*client, ns, args[1]));
    k::ListOptions opts;
    opts.label_selector = fmt::format("{}={}", wbw::labels::kName, args[1]);
    WB_ASSIGN_OR_RETURN(auto rss, client->list(k::types::ReplicaSet, ns, opts));
    std::vector<std::string> out;
    for (const auto& r : wbw::history(deployment, rss.value("items", json::array())))
      if (!r.current) out.push_back(std::to_string(r.number));
    return out;
  }
  if (kind == "paths" && args.size() == 2)
    return complete_container_paths(ctx, args[1], ctx.ticks() + std::chrono::milliseconds(1500));
  if (kind == "routes" && args.size() == 2) {
    WB_ASSIGN_OR_RETURN(auto ns, ctx.workspace());
    WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
    WB_ASSIGN_OR_RETURN(auto versions, wbw::read_route_versions(*client, ns, args[1]));
    std::vector<std::string> out;
    for (const auto& v : versions) out.push_back(std::to_string(v.number));
    return out;
  }
  return std::vector<std::string>{};
}

}  // namespace

void register_completion(CLI::App& app, Context& ctx, Action& action) {
  auto shell = std::make_shared<std::string>();
  auto* c = add_verb(app, "completion", "Print the shell completion script for bash, zsh or fish");
  c->add_option("shell", *shell, "bash, zsh or fish")
      ->required()
      ->type_name("SHELL")
      ->check(CLI::IsMember(docs::completion_shells()));
  c->footer(
      "Load it in your shell (the Debian package installs it for all three):\n"
      "  bash:  source <(wb completion bash)      in ~/.bashrc\n"
      "  zsh:   source <(wb completion zsh)       in ~/.zshrc, after compinit\n"
      "  fish:  wb completion fish | source       in ~/.config/fish/config.fish\n"
      "App names, workspaces, revisions, config and routes versions, and paths in an app's\n"
      "container (APP:/path) are read from the cluster (within about 2 s).");
  c->callback([shell, &app, &ctx, &action] {
    action = [shell, &app, &ctx]() -> Status {
      ctx.out() << docs::completion_script(*shell, docs::describe(app));
      return {};
    };
  });

  // Hidden (empty group): for the completion scripts only.
  auto args = std::make_shared<std::vector<std::string>>();
  auto* dyn = app.add_subcommand("__complete", "Values for shell completion")->group("");
  dyn->fallthrough();
  dyn->allow_extras();
  dyn->add_option("args", *args, "KIND [APP]")->expected(0, -1);
  dyn->callback([args, &ctx, &action] {
    action = [args, &ctx]() -> Status {
      if (ctx.global.request_timeout.empty()) ctx.global.request_timeout = "2s";
      ctx.global.verbose = 0;
      ctx.global.quiet = true;
      std::vector<std::string> values;
      {
        Deadline deadline(std::chrono::milliseconds(2500));
        auto got = complete_values(ctx, *args);
        if (got) values = std::move(*got);
      }
      for (const auto& v : values)
        if (!v.empty()) ctx.out() << v << '\n';
      return {};
    };
  });

  // Hidden: renders man/*.1 from man/src (scripts/gen-docs.sh).
  auto src = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* man = app.add_subcommand("__man", "Render the man pages")->group("");
  man->add_option("source", *src, "Directory of the page sources (man/src)")->required();
  man->add_option("out", *out, "Directory to write the pages to")->required();
  man->callback([src, out, &app, &ctx, &action] {
    action = [src, out, &app, &ctx]() -> Status {
      WB_ASSIGN_OR_RETURN(auto written, docs::render_man_pages(docs::describe(app), exit_code_docs(), *src, *out));
      for (const auto& w : written) ctx.out() << w << '\n';
      return {};
    };
  });
}

}  // namespace wb::cli::commands
