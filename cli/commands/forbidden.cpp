// The one place a 403 from the Kubernetes API becomes words: who you are, what you tried where,
// your role there, and who can change it.
#include "commands/commands.hpp"
#include "workbench/platform/tenancy.hpp"

namespace wb::cli::commands {

util::Error explain_error(Context& ctx, const util::Error& error) {
  if (!workbench::tenancy::is_forbidden_in_words_candidate(error)) return error;
  auto client = ctx.kube();
  if (!client) return error;
  return workbench::tenancy::explain_forbidden(**client, error);
}

}  // namespace wb::cli::commands
