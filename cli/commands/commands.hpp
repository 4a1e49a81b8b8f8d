// One registrar per noun; each lives in its own file under cli/commands/.
#pragma once

#include "run.hpp"

namespace wb::cli::commands {

void register_version(CLI::App& app, Context& ctx, Action& action);
void register_help(CLI::App& app, Context& ctx, Action& action);
// A command's --help text, its usage line naming the whole command ("Usage: wb app create ...").
std::string help_text(CLI::App* command);
void register_profile(CLI::App& app, Context& ctx, Action& action);
void register_workspace(CLI::App& app, Context& ctx, Action& action);
void register_whoami(CLI::App& app, Context& ctx, Action& action);
void register_app(CLI::App& app, Context& ctx, Action& action);
void register_push(CLI::App& app, Context& ctx, Action& action);
void register_config(CLI::App& app, Context& ctx, Action& action);
void register_route(CLI::App& app, Context& ctx, Action& action);
void register_logs(CLI::App& app, Context& ctx, Action& action);
void register_files(CLI::App& app, Context& ctx, Action& action);
void register_shell(CLI::App& app, Context& ctx, Action& action);
// wb port-forward, and wb app open (so after register_app).
void register_port_forward(CLI::App& app, Context& ctx, Action& action);
void register_jvm(CLI::App& app, Context& ctx, Action& action);
void register_gc(CLI::App& app, Context& ctx, Action& action);
void register_export(CLI::App& app, Context& ctx, Action& action);
void register_doctor(CLI::App& app, Context& ctx, Action& action);
void register_platform(CLI::App& app, Context& ctx, Action& action);
void register_tenant(CLI::App& app, Context& ctx, Action& action);
void register_member(CLI::App& app, Context& ctx, Action& action);
void register_robot(CLI::App& app, Context& ctx, Action& action);
void register_completion(CLI::App& app, Context& ctx, Action& action);

// A 403 from the Kubernetes API in words (who you are, your role there, who can change it), asking
// the server for the facts it needs (tenancy::explain_refusal); other errors unchanged.
util::Error explain_error(Context& ctx, const util::Error& error);
// The words for a refusal whose facts are known (an explained workbench::Refusal); other errors unchanged.
util::Error refusal_in_words(const util::Error& error);
// "deploy", "change config", "read logs", "manage members", ... for a verb on a resource.
std::string action_words(const std::string& verb, const std::string& resource, const std::string& group);
// "alice", or "robot 'ci' of shop-dev" for a service account.
std::string user_words(const std::string& user);

// The exit-code table (shared by `wb help exit-codes` and the man page generator).
struct ExitCodeDoc {
  int code;
  const char* name;
  const char* meaning;
};
const std::vector<ExitCodeDoc>& exit_code_docs();

}  // namespace wb::cli::commands
