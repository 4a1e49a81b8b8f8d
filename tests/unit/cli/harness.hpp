// Runs commands in-process as a user would, with injected IO and environment and fakes for what
// reaches outside: the cluster (FakeClient, also for whatever kubeconfig a command loads),
// registries (one shared oci::Registry), git and the clocks. Each run gets a fresh Context, as each wb invocation does.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "context.hpp"
#include "fake_client.hpp"
#include "run.hpp"

namespace wb::test {

// Hands a command the registry the test holds (the command owns and drops its client).
class SharedRegistry final : public oci::Registry {
 public:
  explicit SharedRegistry(std::shared_ptr<oci::Registry> to) : to_(std::move(to)) {}
  util::Result<Manifest> get_manifest(const oci::Reference& ref) override { return to_->get_manifest(ref); }
  util::Result<bool> has_blob(const oci::Reference& repo, const std::string& digest) override {
    return to_->has_blob(repo, digest);
  }
  util::Status get_blob(const oci::Reference& repo, const std::string& digest, const http::BodySink& sink) override {
    return to_->get_blob(repo, digest, sink);
  }
  util::Result<bool> mount_blob(const oci::Reference& repo, const std::string& digest,
                                const std::string& from_repo) override {
    return to_->mount_blob(repo, digest, from_repo);
  }
  util::Result<oci::Descriptor> put_blob(const oci::Reference& repo, const http::BodyReader& reader, int64_t size,
                                         const std::string& known_digest, const std::string& media_type) override {
    return to_->put_blob(repo, reader, size, known_digest, media_type);
  }
  util::Result<oci::Descriptor> put_blob(const oci::Reference& repo, const BlobOpener& open, int64_t size,
                                         const std::string& known_digest, const std::string& media_type) override {
    return to_->put_blob(repo, open, size, known_digest, media_type);
  }
  util::Result<std::string> put_manifest(const oci::Reference& ref, const std::string& bytes,
                                         const std::string& media_type) override {
    return to_->put_manifest(ref, bytes, media_type);
  }
  util::Result<oci::Descriptor> head_manifest(const oci::Reference& ref) override { return to_->head_manifest(ref); }
  util::Status delete_manifest(const oci::Reference& ref) override { return to_->delete_manifest(ref); }
  util::Result<std::vector<std::string>> list_tags(const oci::Reference& repo) override { return to_->list_tags(repo); }
  util::Status ping(const std::string& registry) override { return to_->ping(registry); }
  util::Status check_push(const oci::Reference& repo) override { return to_->check_push(repo); }

 private:
  std::shared_ptr<oci::Registry> to_;
};

// A git that fails the test unless the test answers it; records every call as "ARGS..." joined
// by spaces.
struct FakeGit {
  std::vector<std::string> calls;
  std::function<workbench::gitops::GitOutput(const std::vector<std::string>& args)> answer;

  workbench::gitops::GitRunner runner() {
    return [this](const std::filesystem::path&,
                  const std::vector<std::string>& args) -> util::Result<workbench::gitops::GitOutput> {
      std::string line;
      for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
      calls.push_back(line);
      if (!answer) FAIL("unexpected git " << line);
      return answer(args);
    };
  }
};

struct Harness {
  std::istringstream in;
  std::ostringstream out, err;
  std::map<std::string, std::string> vars;
  std::filesystem::path home;
  std::shared_ptr<FakeClient> fake = std::make_shared<FakeClient>();
  // Every registry client a command builds is this one (null: the real factory).
  std::shared_ptr<oci::Registry> registry;
  // The registry targets commands asked clients for ("host/repository").
  std::vector<std::string> registry_targets;
  FakeGit git;
  std::optional<util::TimePoint> now;  // the wall clock (nullopt: the real one)

  Harness() {
    home = std::filesystem::temp_directory_path() /
           ("wb-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(home);
    vars["HOME"] = home.string();
  }
  ~Harness() { std::filesystem::remove_all(home); }

  int run(std::vector<std::string> args, bool tty = false) {
    out.str("");
    err.str("");
    cli::Context ctx;
    ctx.io = {&in, &out, &err, tty, tty, tty};
    ctx.env = [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars.find(k);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    ctx.cwd = home;
    ctx.kube_factory = [this](cli::Context&) -> util::Result<std::shared_ptr<kube::Client>> {
      return std::shared_ptr<kube::Client>(fake);
    };
    ctx.connect_kube = [this](kube::RestConfig config, const http::ClientOptions&) {
      fake->cfg = std::move(config);
      return std::shared_ptr<kube::Client>(fake);
    };
    if (registry)
      ctx.registry_factory = [this](cli::Context&, const workbench::Settings&, const workbench::PushTarget& target,
                                    const http::ClientOptions&) -> std::unique_ptr<oci::Registry> {
        registry_targets.push_back(target.ref.registry + "/" + target.ref.repository);
        return std::make_unique<SharedRegistry>(registry);
      };
    ctx.git = git.runner();
    if (now) ctx.now = [this] { return *now; };
    ctx.ticks = [] { return std::chrono::steady_clock::time_point{}; };
    return cli::run_cli(args, ctx);
  }
};

}  // namespace wb::test
