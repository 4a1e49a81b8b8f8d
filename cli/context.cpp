#include "context.hpp"

#include <fmt/format.h>

#include <iostream>

#include "oci/registry_client.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::cli {

using util::Error;
using util::ErrorCode;

OutputFormat GlobalOptions::format() const {
  if (output == "json") return OutputFormat::Json;
  if (output == "yaml") return OutputFormat::Yaml;
  if (output == "wide") return OutputFormat::Wide;
  if (output == "name") return OutputFormat::Name;
  return OutputFormat::Table;
}

static bool color_allowed(const Context& ctx) {
  if (ctx.global.no_color) return false;
  if (ctx.env) {
    if (auto v = ctx.env("NO_COLOR"); v && !v->empty()) return false;
    if (auto t = ctx.env("TERM"); t && *t == "dumb") return false;
  }
  return true;
}

bool Context::color_out() const { return io.stdout_tty && color_allowed(*this); }
bool Context::color_err() const { return io.stderr_tty && color_allowed(*this); }
bool Context::show_progress() const { return io.stderr_tty && !global.quiet && !global.machine_output(); }

bool Context::in_gitlab_ci() const {
  if (!env) return false;
  auto v = env("GITLAB_CI");
  return v && *v == "true";
}

Result<const workbench::Settings*> Context::settings() {
  if (!settings_) {
    workbench::ResolveInputs in;
    in.profile_flag = global.profile;
    if (!global.workspace.empty()) in.flags["workspace"] = global.workspace;
    if (!global.context.empty()) in.flags["kube.context"] = global.context;
    in.env = env;
    in.cwd = cwd;
    WB_ASSIGN_OR_RETURN(auto s, workbench::resolve_settings(in));
    settings_ = std::move(s);
  }
  return &*settings_;
}

Result<kube::Client*> Context::kube() {
  if (!kube_) {
    auto factory = kube_factory ? kube_factory : default_kube_factory;
    WB_ASSIGN_OR_RETURN(auto client, factory(*this));
    kube_ = std::move(client);
  }
  return kube_.get();
}

Result<kube::RestConfig> Context::kube_config() {
  kube::ConnectOptions opts;
  opts.kubeconfig_flag = global.kubeconfig;
  auto s = settings();
  opts.context_flag = s ? (*s)->text("kube.context") : global.context;
  opts.env = env;
  opts.runner = process_runner;
  return kube::load_rest_config(opts);
}

std::shared_ptr<kube::Client> Context::connect(kube::RestConfig config, const http::ClientOptions& http) {
  if (connect_kube) return connect_kube(std::move(config), http);
  return kube::make_client(std::move(config), nullptr, http);
}

std::unique_ptr<oci::Registry> Context::registry(const workbench::Settings& settings,
                                                 const workbench::PushTarget& target, const http::ClientOptions& http) {
  auto factory = registry_factory ? registry_factory : default_registry_factory;
  return factory(*this, settings, target, http);
}

std::unique_ptr<oci::Registry> Context::registry(const workbench::Settings& settings,
                                                 const oci::Reference& repository) {
  workbench::PushTarget target;
  target.kind = workbench::PushTarget::Kind::Registry;
  target.ref = repository;
  return registry(settings, target, http_options());
}

workbench::gitops::GitRunner Context::git_runner() const { return git ? git : workbench::gitops::real_git(); }

Result<std::string> Context::workspace() {
  WB_ASSIGN_OR_RETURN(auto s, settings());
  if (auto ws = s->get("workspace")) return *ws;
  WB_ASSIGN_OR_RETURN(auto client, kube());
  if (!client->config().namespace_.empty()) return client->config().namespace_;
  return Error(ErrorCode::Usage, "no workspace chosen",
               "pass -w WORKSPACE, run `wb workspace use NAME`, or set one in your profile");
}

http::ClientOptions Context::http_options() {
  http::ClientOptions o;
  o.verbosity = global.verbose;
  if (global.verbose > 0) {
    std::ostream* e = io.err;
    o.trace = [e](std::string_view line) { *e << line << '\n'; };
  }
  if (!global.request_timeout.empty()) {
    if (auto d = util::parse_duration(global.request_timeout, "--request-timeout")) o.request_timeout = *d;
  }
  return o;
}

void Context::status(const std::string& line) {
  if (show_progress()) err() << line << '\n';
}

void Context::warn(const std::string& line) {
  if (global.quiet) return;
  if (color_err())
    err() << "\033[33mwarning:\033[0m " << line << '\n';
  else
    err() << "warning: " << line << '\n';
}

Result<std::shared_ptr<kube::Client>> default_kube_factory(Context& ctx) {
  WB_TRY(ctx.settings());
  WB_ASSIGN_OR_RETURN(auto config, ctx.kube_config());
  return std::shared_ptr<kube::Client>(ctx.connect(std::move(config), ctx.http_options()));
}

std::unique_ptr<oci::Registry> default_registry_factory(Context& ctx, const workbench::Settings& settings,
                                                        const workbench::PushTarget& target,
                                                        const http::ClientOptions& http) {
  return oci::make_registry_client(workbench::registry_options(settings, target, ctx.env, http));
}

}  // namespace wb::cli
