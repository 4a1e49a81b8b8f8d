// GitOps' git: running it (argv, never a shell, never prompting), checking a checkout, and one
// commit of a set of file changes, pushed and rebased once when asked.
#include <fmt/format.h>

#include <cstring>
#include <set>

#include "util/process.hpp"
#include "util/strings.hpp"
#include "workbench/delivery/gitops.hpp"

namespace wb::workbench::gitops {

using util::Error;
using util::ErrorCode;

namespace {

Result<GitOutput> run_process(util::ProcessRunner& processes, const std::vector<std::string>& argv) {
  util::ProcessSpec spec;
  spec.argv = argv;
  spec.unset_env = {"LANGUAGE"};
  // A credential question would hang a CI job; messages in English are the ones we read.
  spec.env = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
  const util::ProcessResult run = processes.run(spec);
  if (!run.started())
    return Error(ErrorCode::Failure, fmt::format("cannot run {}: {}", argv[0], std::strerror(run.start_error)),
                 "install git (apt-get install git) and make sure it is on PATH");
  GitOutput result;
  result.out = run.out;
  result.err = run.err;
  result.exit_code = run.status();
  return result;
}

}  // namespace

GitRunner real_git(std::shared_ptr<util::ProcessRunner> processes) {
  if (!processes) processes = util::system_process_runner();
  return [processes](const fs::path& dir, const std::vector<std::string>& args) -> Result<GitOutput> {
    std::vector<std::string> argv = {"git", "-C", dir.empty() ? std::string(".") : dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(*processes, argv);
  };
}

std::string git_error_line(const GitOutput& out) {
  std::string last;
  for (const auto& line : util::split(out.err, '\n')) {
    std::string t = util::trim(line);
    if (t.empty() || t.rfind("hint:", 0) == 0) continue;
    last = t;
    if (t.rfind("fatal:", 0) == 0 || t.rfind("error:", 0) == 0) break;
  }
  if (last.empty()) last = util::trim(out.out.substr(0, out.out.find('\n')));
  if (last.empty()) last = fmt::format("git exited with {}", out.exit_code);
  return last;
}

namespace {

// Runs git and turns a failure into an error saying what git said.
Result<std::string> git_ok(const GitRunner& git, const fs::path& dir, const std::vector<std::string>& args,
                           const std::string& what) {
  WB_ASSIGN_OR_RETURN(auto r, git(dir, args));
  if (r.exit_code != 0) return Error(ErrorCode::Failure, fmt::format("{} failed: {}", what, git_error_line(r)));
  return util::trim(r.out);
}

std::string git_value(const GitRunner& git, const fs::path& dir, const std::vector<std::string>& args) {
  auto r = git(dir, args);
  if (!r || r->exit_code != 0) return "";
  return util::trim(r->out);
}

// `-c user.name=... -c user.email=...` when git has no identity (a fresh CI runner).
std::vector<std::string> identity_args(const GitRunner& git, const fs::path& dir, const EnvLookup& env) {
  auto from_env = [&](const char* name, const char* fallback) {
    if (env)
      if (auto v = env(name); v && !v->empty()) return *v;
    return std::string(fallback);
  };
  std::vector<std::string> out;
  if (git_value(git, dir, {"config", "user.name"}).empty())
    out.insert(out.end(), {"-c", "user.name=" + from_env("GITLAB_USER_NAME", "wb")});
  if (git_value(git, dir, {"config", "user.email"}).empty())
    out.insert(out.end(), {"-c", "user.email=" + from_env("GITLAB_USER_EMAIL", "wb@localhost")});
  return out;
}

}  // namespace

Status check_checkout(const GitRunner& git, const CommitOptions& o) {
  WB_ASSIGN_OR_RETURN(auto top, git(o.root, {"rev-parse", "--show-toplevel"}));
  if (top.exit_code != 0)
    return Error(ErrorCode::Usage, fmt::format("{} is not a git checkout ({})", o.root.string(), git_error_line(top)),
                 "clone your config repository and pass that directory to --gitops");
  WB_ASSIGN_OR_RETURN(auto status,
                      git_ok(git, o.root, {"status", "--porcelain", "--untracked-files=normal"}, "git status"));
  if (!status.empty()) {
    const std::string first = util::trim(util::split(status, '\n').front());
    return Error(ErrorCode::Conflict,
                 fmt::format("the config checkout {} has uncommitted changes ({})", o.root.string(), first),
                 "commit, stash or discard them first; nothing was changed");
  }
  if (git_value(git, o.root, {"rev-parse", "--verify", "-q", "HEAD"}).empty())
    return Error(ErrorCode::Usage, fmt::format("the config checkout {} has no commit yet", o.root.string()),
                 "commit the exported manifests first");
  if (o.push && git_value(git, o.root, {"symbolic-ref", "-q", "--short", "HEAD"}).empty())
    return Error(
        ErrorCode::Usage,
        fmt::format("the config checkout {} is not on a branch (detached HEAD), so --git-push has nowhere to go",
                    o.root.string()),
        "check out the branch Argo CD follows (git checkout main)");
  return {};
}

Result<CommitResult> commit_changes(const GitRunner& git, const CommitOptions& o, const FileChanges& changes) {
  if (changes.empty()) return Error(ErrorCode::Failure, "nothing to commit: the checkout says so already");
  WB_TRY(check_checkout(git, o));
  CommitResult out;
  WB_ASSIGN_OR_RETURN(const std::string orig, git_ok(git, o.root, {"rev-parse", "HEAD"}, "git rev-parse"));
  out.branch = git_value(git, o.root, {"symbolic-ref", "-q", "--short", "HEAD"});
  std::vector<std::string> paths;
  for (const auto& [path, text] : changes.files) paths.push_back(path);

  // Puts the checkout back as it was: HEAD, index and the files we touched. HEAD moves back only
  // from a commit of ours (another process committing in the same checkout keeps its commit).
  std::set<std::string> ours = {orig};
  auto restore = [&](Error e) -> Error {
    (void)git(o.root, {"rebase", "--abort"});
    if (ours.count(git_value(git, o.root, {"rev-parse", "HEAD"}))) (void)git(o.root, {"reset", "-q", "--hard", orig});
    std::vector<std::string> clean = {"clean", "-fq", "--"};
    clean.insert(clean.end(), paths.begin(), paths.end());
    (void)git(o.root, clean);
    if (e.hint.empty()) e.hint = "the config checkout is as it was; nothing was committed";
    return e;
  };

  if (auto st = apply_files(o.root, changes); !st) return restore(st.error());
  std::vector<std::string> add = {"add", "-A", "--"};
  add.insert(add.end(), paths.begin(), paths.end());
  if (auto r = git_ok(git, o.root, add, "git add"); !r) return restore(r.error());
  const auto identity = identity_args(git, o.root, o.env);
  std::vector<std::string> commit = identity;
  commit.insert(commit.end(), {"commit", "-q", "-m", o.message});
  if (auto r = git_ok(git, o.root, commit, "git commit"); !r) return restore(r.error());
  auto head = git_ok(git, o.root, {"rev-parse", "HEAD"}, "git rev-parse");
  if (!head) return restore(head.error());
  out.commit = *head;
  ours.insert(out.commit);
  if (!o.push) return out;

  std::string remote = git_value(git, o.root, {"config", "--get", "branch." + out.branch + ".remote"});
  std::string merge = git_value(git, o.root, {"config", "--get", "branch." + out.branch + ".merge"});
  if (remote.empty() || remote == ".") remote = "origin";
  if (merge.empty()) merge = "refs/heads/" + out.branch;
  const std::string short_merge = merge.rfind("refs/heads/", 0) == 0 ? merge.substr(11) : merge;
  out.pushed_to = remote + "/" + short_merge;
  const std::vector<std::string> push = {"push", "-q", remote, "HEAD:" + merge};
  auto first_or = git(o.root, push);
  if (!first_or) return restore(first_or.error());
  auto& first = *first_or;
  if (first.exit_code != 0) {
    // Refused (someone pushed meanwhile): rebase onto theirs once and try again.
    auto fetched = git_ok(git, o.root, {"fetch", "-q", remote, merge}, "git fetch " + remote);
    if (!fetched) {
      Error e = fetched.error();
      e.message = fmt::format("git push to {} failed ({}), and so did fetching it: {}", out.pushed_to,
                              git_error_line(first), e.message);
      return restore(e);
    }
    std::vector<std::string> rebase = identity;
    rebase.insert(rebase.end(), {"rebase", "-q", "FETCH_HEAD"});
    auto rebased_or = git(o.root, rebase);
    if (!rebased_or) return restore(rebased_or.error());
    auto& rebased = *rebased_or;
    if (auto h = git_value(git, o.root, {"rev-parse", "HEAD"}); !h.empty()) ours.insert(h);
    if (rebased.exit_code != 0)
      return restore(Error(ErrorCode::Conflict,
                           fmt::format("{} changed the same lines meanwhile; the rebase onto it failed ({})",
                                       out.pushed_to, git_error_line(rebased)),
                           "the config checkout is as it was; pull, then run the command again"));
    auto second_or = git(o.root, push);
    if (!second_or) return restore(second_or.error());
    auto& second = *second_or;
    if (second.exit_code != 0)
      return restore(
          Error(ErrorCode::Failure, fmt::format("git push to {} failed: {}", out.pushed_to, git_error_line(second))));
    out.rebased = true;
    auto rehead = git_ok(git, o.root, {"rev-parse", "HEAD"}, "git rev-parse");
    if (rehead) out.commit = *rehead;
  }
  return out;
}

std::string commit_message(const MessageFacts& f) {
  std::string subject;
  if (!f.digest.empty() || !f.image.empty()) {
    subject = fmt::format("{}: deploy {}", f.app, f.jar.empty() ? short_image(f.image) : f.jar);
    if (!f.version.empty()) subject += " " + f.version;
    if (!f.digest.empty()) subject += fmt::format(" ({})", f.digest.substr(0, std::min<size_t>(f.digest.size(), 19)));
  } else {
    subject = fmt::format("{}: config v{}", f.app, f.config_version);
    const std::string why = f.reason.empty() ? f.change : f.reason;
    if (!why.empty()) subject += " (" + why + ")";
  }
  std::vector<std::pair<std::string, std::string>> lines = {
      {"App", f.app},
      {"Workspace", f.workspace},
      {"Jar", f.jar},
      {"Version", f.version},
      {"Image", f.image},
      {"Config-Version", f.config_version ? fmt::format("v{}", f.config_version) : ""},
      {"Change", f.change},
      {"Reason", f.reason},
      {"Source-Commit", f.source_commit},
      {"Pipeline", f.pipeline},
      {"Changed-By", f.who},
  };
  std::string body;
  for (const auto& [k, v] : lines) {
    std::string value = util::replace_all(util::trim(v), "\n", " ");
    if (!value.empty()) body += k + ": " + value + "\n";
  }
  return subject + "\n\n" + body;
}

}  // namespace wb::workbench::gitops
