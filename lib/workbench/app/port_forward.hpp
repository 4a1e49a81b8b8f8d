// wb port-forward: local TCP ports that lead to a port of an app's replica through the API
// server (pods/portforward over WebSocket). Each accepted connection is forwarded on its own: a
// ready replica is picked for it when it comes, so connections after a rollout or a restart go to
// a replica that is there, without starting over. Nothing here prints: problems with single
// connections go to a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "kube/client.hpp"
#include "util/interrupt.hpp"
#include "util/result.hpp"

namespace wb::workbench {

// One forwarded port: LOCAL:REMOTE. local 0 = a free port the system picks.
struct ForwardSpec {
  uint16_t local = 0;
  uint16_t remote = 0;
  bool operator==(const ForwardSpec&) const = default;
};

// Parses "[LOCAL:]REMOTE" ("8080" is 8080:8080, "9000:8080", "0:8080"); Usage naming the text and
// the form otherwise (REMOTE 1-65535, LOCAL 0-65535).
util::Result<ForwardSpec> parse_forward_spec(const std::string& text);

struct PortForwardOptions {
  std::string app;
  std::vector<ForwardSpec> ports;     // empty: the app's port, on the same local port
  std::string address = "127.0.0.1";  // where to listen: an IP address or "localhost"
  std::string replica;                // default: a ready replica, picked per connection
  // Ports given by the app (ports empty) fall back to a free local port when theirs is taken.
  bool free_port_if_taken = false;
  // Connections forwarded at once; more wait in the listen queue until one ends. Each holds two
  // threads and a 64 KiB buffer each way, so this bounds memory.
  size_t max_connections = 256;
};

// A port being listened on, and where it leads.
struct Forwarding {
  std::string address;  // as listened on: "127.0.0.1", "::1"
  uint16_t local = 0;   // the bound port (the picked one for 0)
  uint16_t remote = 0;
  std::string url() const;  // "http://127.0.0.1:8080", "http://[::1]:8080"
};

class PortForwarder {
 public:
  // Finds the app's port (when none is given), listens on the local ports and opens one forwarded
  // connection to a ready replica to see that the API server forwards at all. Errors: no such app
  // or replica, no ready replica (NotFound); a bad address or a local port taken (Usage); an API
  // server that does not serve port-forward over WebSocket (Usage, naming the version needed);
  // what the server said otherwise.
  static util::Result<std::unique_ptr<PortForwarder>> start(kube::Client& client, const std::string& ns,
                                                            PortForwardOptions options);
  virtual ~PortForwarder() = default;

  virtual const std::vector<Forwarding>& forwardings() const = 0;
  // Accepts and forwards connections until `stop` (by default Ctrl-C), then ends those still open
  // and returns Interrupted. A connection that cannot be forwarded or breaks off is closed and
  // reported to `on_problem` (called from the connection's thread, one call at a time).
  virtual util::Status serve(const std::function<void(const util::Error&)>& on_problem,
                             std::stop_token stop = util::interrupt_token()) = 0;
};

}  // namespace wb::workbench
