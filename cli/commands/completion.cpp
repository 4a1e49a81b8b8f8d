// wb completion bash|zsh|fish: the completion script, generated from the command definitions.
// Hidden helpers for the scripts and the docs build:
//   wb __complete KIND [APP]   values for completion, one a line (apps, workspaces, profiles,
//                              contexts; configs APP, revisions APP, routes APP); prints nothing
//                              on any error, gives up after about two seconds
//   wb __man SRC_DIR OUT_DIR   renders the man pages (man/README.md)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "commands/commands.hpp"
#include "docs/completion.hpp"
#include "docs/manpage.hpp"
#include "kube/kubeconfig.hpp"
#include "workbench/app.hpp"
#include "workbench/config.hpp"
#include "workbench/lifecycle.hpp"
#include "workbench/profile.hpp"
#include "workbench/routes.hpp"

namespace wb::cli::commands {

namespace {

namespace k = wb::kube;
using json = nlohmann::json;
using nlohmann::literals::operator""_json_pointer;
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
  for (const auto& item : list.value("items", json::array()))
    names.push_back(item.value("/metadata/name"_json_pointer, std::string()));
  return names;
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
    WB_ASSIGN_OR_RETURN(auto settings, ctx.settings());
    WB_ASSIGN_OR_RETURN(auto client, ctx.kube());
    const std::string tenant = settings->get_or("tenant", "");
    k::ListOptions opts;
    opts.label_selector = tenant.empty() ? "kubesphere.io/workspace" : "kubesphere.io/workspace=" + tenant;
    WB_ASSIGN_OR_RETURN(auto list, client->list(k::types::Namespace, "", opts));
    return item_names(list);
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
    opts.label_selector = fmt::format("{}={},{}=wb,{}", wbw::labels::kName, args[1], wbw::labels::kManagedBy,
                                      wbw::kConfigVersionLabel);
    WB_ASSIGN_OR_RETURN(auto list, client->list(k::types::ConfigMap, ns, opts));
    std::vector<long> numbers;
    for (const auto& item : list.value("items", json::array())) {
      auto labels = item["metadata"].value("labels", json::object());
      try {
        numbers.push_back(std::stol(labels.value(wbw::kConfigVersionLabel, std::string())));
      } catch (const std::exception&) {
      }
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
      "App names, workspaces, revisions and config and routes versions are read from the cluster\n"
      "(within about 2 s).");
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
