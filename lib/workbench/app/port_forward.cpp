// Local listeners and the connections they forward: a thread per connection reads the local
// socket and sends, and a second one receives and writes back; both wake every 250 ms to see
// whether to stop. Connections beyond max_connections wait in the listen queue.
#include "workbench/app/port_forward.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "util/fd.hpp"
#include "util/json.hpp"
#include "util/numbers.hpp"
#include "workbench/app/files_internal.hpp"
#include "workbench/app/lifecycle.hpp"
#include "workbench/core/app.hpp"
#include "workbench/core/json_fields.hpp"
#include "workbench/core/status.hpp"

namespace wb::workbench {

using util::Error;
using util::ErrorCode;
using util::Result;
using util::Status;
namespace k = wb::kube;

namespace {

constexpr size_t kChunk = 64 << 10;
constexpr auto kWake = std::chrono::milliseconds(250);
constexpr int kMinWebSocketForwardMinor = 31;

std::optional<uint16_t> port_number(const std::string& text, uint16_t min) {
  auto n = util::parse_int<int>(text, "port", min, 65535);
  if (!n) return std::nullopt;
  return static_cast<uint16_t>(*n);
}

// The app's container port (the first one named on its container), else the default.
Result<uint16_t> app_port(k::Client& client, const std::string& ns, const std::string& app) {
  WB_ASSIGN_OR_RETURN(auto deployment, read_app(client, ns, app));
  const json pod_template = util::json_at(deployment, "/spec/template", json::object());
  if (const json* c = app_container(pod_template, app)) {
    auto ports = c->value("ports", json::array());
    if (!ports.empty()) {
      int p = ports[0].value("containerPort", 0);
      if (p > 0 && p <= 65535) return static_cast<uint16_t>(p);
    }
  }
  return static_cast<uint16_t>(kDefaultAppPort);
}

// The replica asked for, else a ready one.
Result<files_detail::Target> pick_replica(k::Client& client, const std::string& ns, const std::string& app,
                                          const std::string& replica) {
  auto t = files_detail::pick_pod(client, ns, app, replica, "");
  if (!replica.empty() || (t && pod_ready(t->pod) && !files_detail::pod_terminating(t->pod))) return t;
  if (!t && t.error().code != ErrorCode::NotFound) return t;
  return Error(ErrorCode::NotFound, fmt::format("app '{}' has no ready replica to forward to", app),
               t ? fmt::format("`wb app status {}` says why", app) : fmt::format("`wb app start {}` starts it", app));
}

struct Listener {
  util::Fd fd;
  Forwarding forwarding;
};

Result<Listener> listen_on(const std::string& address, uint16_t port, bool free_if_taken) {
  const std::string host = address == "localhost" ? "127.0.0.1" : address;
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    return Error(ErrorCode::Usage, fmt::format("'{}' is not an IP address to listen on", address),
                 "give one such as 127.0.0.1, 0.0.0.0 or ::1 with --address");
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> info(found, ::freeaddrinfo);
  Listener l;
  l.fd.reset(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!l.fd) return Error(ErrorCode::Failure, fmt::format("cannot open a socket: {}", std::strerror(errno)));
  int one = 1;
  (void)::setsockopt(l.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(l.fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    const int e = errno;
    if (e == EADDRINUSE && free_if_taken && port != 0) return listen_on(address, 0, false);
    if (e == EADDRINUSE)
      return Error(ErrorCode::Usage, fmt::format("local port {} on {} is taken", port, address),
                   "give another one as LOCAL:REMOTE (0 picks a free one)");
    return Error(ErrorCode::Usage, fmt::format("cannot listen on {} port {}: {}", address, port, std::strerror(e)));
  }
  if (::listen(l.fd.get(), 128) != 0)
    return Error(ErrorCode::Failure, fmt::format("cannot listen on {}: {}", address, std::strerror(errno)));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  l.forwarding.local = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                         : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  l.forwarding.address = host;
  return l;
}

// What a refused first connection means: an API server too old to forward over WebSocket, or
// the server's own words.
Error refused_words(k::Client& client, Error e) {
  const auto* refused = e.detail<http::UpgradeRefused>();
  if (!refused || e.code == ErrorCode::Auth || e.code == ErrorCode::NotFound) return e;
  auto d = client.discovery();
  if (!d || d->major != 1 || d->minor >= kMinWebSocketForwardMinor) return e;
  return Error(ErrorCode::Usage,
               fmt::format("the cluster's API server ({}) does not forward ports over WebSocket ({}): wb port-forward "
                           "needs Kubernetes 1.{} or later",
                           d->git_version, e.message, kMinWebSocketForwardMinor),
               "use `kubectl port-forward`, or ask for the cluster to be upgraded");
}

class Forwarder final : public PortForwarder {
 public:
  Forwarder(k::Client& client, std::string ns, PortForwardOptions o)
      : client_(client), ns_(std::move(ns)), o_(std::move(o)) {}

  Status listen_all(const std::vector<ForwardSpec>& specs) {
    for (const auto& s : specs) {
      WB_ASSIGN_OR_RETURN(Listener l, listen_on(o_.address, s.local, o_.free_port_if_taken));
      l.forwarding.remote = s.remote;
      forwardings_.push_back(l.forwarding);
      listeners_.push_back(std::move(l));
    }
    return {};
  }

  const std::vector<Forwarding>& forwardings() const override { return forwardings_; }

  Status serve(const std::function<void(const Error&)>& on_problem, std::stop_token stop) override {
    on_problem_ = &on_problem;
    std::list<Connection> connections;
    while (!stop.stop_requested()) {
      connections.remove_if([](Connection& c) {
        if (!c.done) return false;
        c.thread.join();
        return true;
      });
      std::vector<pollfd> fds;
      if (connections.size() < o_.max_connections)
        for (const auto& l : listeners_) fds.push_back({l.fd.get(), POLLIN, 0});
      int r = ::poll(fds.data(), fds.size(), static_cast<int>(kWake.count()));
      if (r <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        util::Fd local(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!local) continue;
        Connection& c = connections.emplace_back();
        c.thread = std::thread([this, &c, fd = local.release(), remote = listeners_[i].forwarding.remote, stop] {
          forward(util::Fd(fd), remote, stop);
          c.done = true;
        });
      }
    }
    for (auto& c : connections) c.thread.join();  // each sees the stop within kWake
    return Error(ErrorCode::Interrupted, "");
  }

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void report(const Error& e) {
    std::lock_guard<std::mutex> lock(report_mu_);
    (*on_problem_)(e);
  }

  // One local connection, forwarded until either side ends it or `stop`.
  void forward(util::Fd local, uint16_t remote, std::stop_token stop) {
    auto target = pick_replica(client_, ns_, o_.app, o_.replica);
    if (!target) return report(target.error());
    auto pf = client_.port_forward(ns_, target->name, remote);
    if (!pf) return report(in_words(pf.error(), target->replica, remote));
    std::atomic<bool> ended{false};
    std::thread down([&] {
      receive_loop(**pf, local.get(), *target, remote, stop, ended);
      ::shutdown(local.get(), SHUT_RDWR);  // wakes the reading side below
    });
    std::string buf(kChunk, '\0');
    while (!stop.stop_requested() && !ended) {
      pollfd p{local.get(), POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(kWake.count()));
      if (r < 0 && errno != EINTR) break;
      if (r <= 0) continue;
      long n = util::read_some(local.get(), buf.data(), buf.size());
      if (n <= 0 || !(*pf)->send(std::string_view(buf.data(), static_cast<size_t>(n)))) break;
    }
    ended = true;
    ::shutdown(local.get(), SHUT_RDWR);  // wakes a write the down side waits in
    (*pf)->close();
    down.join();
  }

  void receive_loop(k::PortForwardConnection& pf, int local, const files_detail::Target& t, uint16_t remote,
                    const std::stop_token& stop, std::atomic<bool>& ended) {
    while (!stop.stop_requested() && !ended) {
      auto data = pf.receive(kWake);
      if (!data) {
        if (data.error().code == ErrorCode::Timeout) continue;
        if (!ended && data.error().code != ErrorCode::Interrupted) report(in_words(data.error(), t.replica, remote));
        break;
      }
      if (data->empty() || util::write_all(local, *data) != 0) break;
    }
    ended = true;
  }

  static Error in_words(Error e, const std::string& replica, uint16_t remote) {
    e.message = fmt::format("connection to port {} of replica {}: {}", remote, replica, e.message);
    return e;
  }

  k::Client& client_;
  std::string ns_;
  PortForwardOptions o_;
  std::vector<Listener> listeners_;
  std::vector<Forwarding> forwardings_;
  const std::function<void(const Error&)>* on_problem_ = nullptr;
  std::mutex report_mu_;
};

}  // namespace

Result<ForwardSpec> parse_forward_spec(const std::string& text) {
  auto bad = [&] {
    return Error(ErrorCode::Usage, fmt::format("'{}' is not a port to forward", text),
                 "give [LOCAL:]REMOTE, e.g. 8080 or 9000:8080 (REMOTE 1-65535, LOCAL 0 for a free one)");
  };
  const auto colon = text.find(':');
  ForwardSpec s;
  auto remote = port_number(colon == std::string::npos ? text : text.substr(colon + 1), 1);
  if (!remote) return bad();
  s.remote = *remote;
  s.local = s.remote;
  if (colon != std::string::npos) {
    auto local = port_number(text.substr(0, colon), 0);
    if (!local) return bad();
    s.local = *local;
  }
  return s;
}

std::string Forwarding::url() const {
  return address.find(':') != std::string::npos ? fmt::format("http://[{}]:{}", address, local)
                                                : fmt::format("http://{}:{}", address, local);
}

Result<std::unique_ptr<PortForwarder>> PortForwarder::start(k::Client& client, const std::string& ns,
                                                            PortForwardOptions options) {
  std::vector<ForwardSpec> specs = options.ports;
  if (specs.empty()) {
    WB_ASSIGN_OR_RETURN(uint16_t port, app_port(client, ns, options.app));
    specs.push_back({port, port});
  } else {
    options.free_port_if_taken = false;
    WB_TRY(read_app(client, ns, options.app));
  }
  auto f = std::make_unique<Forwarder>(client, ns, options);
  WB_TRY(f->listen_all(specs));
  WB_ASSIGN_OR_RETURN(auto target, pick_replica(client, ns, options.app, options.replica));
  auto probe = client.port_forward(ns, target.name, specs.front().remote);
  if (!probe) return refused_words(client, std::move(probe).error());
  (*probe)->close();
  return std::unique_ptr<PortForwarder>(std::move(f));
}

}  // namespace wb::workbench
