// A pod's log stream (pods/log) and commands run in it (pods/exec over a WebSocket, with the
// v5/v4 channel protocol).
#include "kube/client_internal.hpp"
#include "util/json.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::kube::detail {

namespace {

// pods/exec channel protocol over a WebSocket.
class WsExecSession : public ExecSession {
 public:
  WsExecSession(std::unique_ptr<http::WebSocket> ws, StreamSink out, StreamSink err)
      : ws_(std::move(ws)), out_(std::move(out)), err_(std::move(err)), protocol_(ws_->subprotocol()) {}
  ~WsExecSession() override {
    if (closed_) return;
    ws_->stop_waiting_to_send();
    (void)ws_->close();
  }

  const std::string& protocol() const override { return protocol_; }

  util::Status write_stdin(std::string_view data) override {
    if (stdin_closed_) return Error(ErrorCode::Failure, "stdin of the remote command is already closed");
    stdin_frame_.clear();  // reused: a fresh 256 KiB string per frame costs page faults
    stdin_frame_.reserve(data.size() + 1);
    stdin_frame_ += '\0';
    stdin_frame_.append(data);
    return ws_->send_binary(stdin_frame_);
  }

  util::Status close_stdin() override {
    if (protocol_ != "v5.channel.k8s.io")
      return Error(ErrorCode::Failure, "the server speaks " +
                                           (protocol_.empty() ? std::string("an old protocol") : protocol_) +
                                           ", which cannot close stdin on its own; close the connection instead");
    if (stdin_closed_) return {};
    stdin_closed_ = true;
    return ws_->send_binary(std::string_view("\xff\x00", 2));
  }

  util::Status resize(uint16_t width, uint16_t height) override {
    json size = {{"Width", width}, {"Height", height}};
    return ws_->send_binary('\x04' + size.dump());
  }

  Result<ExecResult> wait() override {
    while (true) {
      auto msg = ws_->receive();
      if (!msg) {
        ws_->stop_waiting_to_send();
        closed_ = true;
        if (msg.error().code == ErrorCode::Interrupted) return msg.error();
        return Error(
            ErrorCode::Unavailable,
            "the connection to the pod closed before the command's exit status arrived: " + msg.error().message);
      }
      if (msg->kind == http::WsMessage::Kind::Close) {
        ws_->stop_waiting_to_send();
        closed_ = true;
        return Error(ErrorCode::Unavailable,
                     "the connection to the pod closed before the command's exit status arrived");
      }
      if (msg->kind != http::WsMessage::Kind::Binary || msg->data.empty()) continue;
      unsigned char channel = static_cast<unsigned char>(msg->data[0]);
      std::string_view payload(msg->data.data() + 1, msg->data.size() - 1);
      if (channel == 1 || channel == 2) {
        if (payload.empty()) continue;
        const StreamSink& sink = channel == 1 ? out_ : err_;
        if (sink && !sink(payload)) {
          ws_->stop_waiting_to_send();
          (void)ws_->close();
          closed_ = true;
          return Error(ErrorCode::Interrupted, "stopped reading the command's output");
        }
      } else if (channel == 3) {
        status_text_.append(payload);
        json st = json::parse(status_text_, nullptr, false);
        if (st.is_discarded()) continue;  // the status may come in pieces
        ws_->stop_waiting_to_send();      // stdin the command left unread must not hold the close
        (void)ws_->close();
        closed_ = true;
        return exec_result_from_status(st);
      }
    }
  }

 private:
  std::unique_ptr<http::WebSocket> ws_;
  StreamSink out_, err_;
  std::string protocol_;
  std::string status_text_;
  std::string stdin_frame_;
  bool stdin_closed_ = false;
  bool closed_ = false;
};

// The API server's answer to an exec upgrade it refused (a Status, or text from a proxy).
Error upgrade_error(const http::UpgradeRefused& refused, const Error& e) {
  // Without a body, the transport's words for the status stand in for it.
  return status_to_error(refused.status, refused.body.empty() ? e.message : refused.body);
}

}  // namespace

Result<ExecResult> exec_result_from_status(const json& st) {
  ExecResult r;
  if (!st.is_object()) return Error(ErrorCode::Unavailable, "the server sent an invalid exec status");
  std::string status = util::json_value(st, "status", "");
  if (status == "Success") return r;
  std::string reason = util::json_value(st, "reason", "");
  std::string message = st.contains("message") && st["message"].is_string() ? st["message"].get<std::string>() : "";
  if (reason == "NonZeroExitCode" && st.contains("details") && st["details"].is_object()) {
    const json& d = st["details"];
    if (d.contains("causes") && d["causes"].is_array()) {
      for (const auto& c : d["causes"]) {
        if (!c.is_object() || util::json_value(c, "reason", "") != "ExitCode") continue;
        std::string m = util::json_value(c, "message", "");
        if (auto code = util::parse_int<int>(util::trim(m), "")) {
          r.exit_code = *code;
          return r;
        }
      }
    }
  }
  r.exit_code = -1;
  r.failure_message = message.empty() ? "the command failed" : message;
  // The runtime's words for a missing executable (containerd/runc: `exec: "tar": executable file
  // not found in $PATH`, or `no such file or directory` for a path).
  r.no_such_command = message.find("executable file not found") != std::string::npos ||
                      message.find("no such file or directory") != std::string::npos;
  return r;
}

Status HttpClient::pod_logs(const std::string& ns, const std::string& pod, const LogOptions& o,
                            const StreamSink& sink) {
  Query q;
  q.add("container", o.container)
      .add_if(o.follow, "follow", "true")
      .add_if(o.previous, "previous", "true")
      .add_if(o.timestamps, "timestamps", "true")
      .add_if(o.since_seconds.has_value(), "sinceSeconds", std::to_string(o.since_seconds.value_or(0)))
      .add("sinceTime", o.since_time)
      .add_if(o.tail_lines.has_value(), "tailLines", std::to_string(o.tail_lines.value_or(0)))
      .add_if(o.limit_bytes.has_value(), "limitBytes", std::to_string(o.limit_bytes.value_or(0)));
  Call c{"GET", resource_path(types::Pod, ns, pod) + "/log" + q.str()};
  c.sink = [&](std::string_view chunk) { return sink(chunk); };
  c.accept = "application/json, */*";
  if (o.follow) {
    c.timeout = std::chrono::milliseconds(0);
    // A follow that breaks is resumed by the caller, from what it has seen: sent again as it
    // was, a window like tailLines=0 would slide past the lines written meanwhile. Neither the
    // transport nor libcurl (on a kept-alive connection that dies) may send it again.
    c.idempotent = false;
    c.fresh_connection = true;
  }
  WB_TRY(call(c));
  return {};
}

Result<std::unique_ptr<ExecSession>> HttpClient::exec(const std::string& ns, const std::string& pod,
                                                      const ExecOptions& o, StreamSink on_stdout,
                                                      StreamSink on_stderr) {
  if (o.command.empty()) return Error(ErrorCode::Usage, "exec needs a command");
  Query q;
  for (const auto& arg : o.command) q.add_always("command", arg);
  q.add("container", o.container)
      .add("stdin", o.stdin ? "true" : "false")
      .add("stdout", o.stdout ? "true" : "false")
      .add("stderr", o.stderr ? "true" : "false")
      .add("tty", o.tty ? "true" : "false");
  std::string path = resource_path(types::Pod, ns, pod) + "/exec" + q.str();
  if (o.bulk && !o.tty && !spdy_refused_) {
    auto spdy = exec_spdy(path, o, on_stdout, on_stderr);
    if (spdy || spdy.error().code == ErrorCode::Interrupted) return spdy;
    // A server or proxy without SPDY (or one that broke it): the WebSocket says what is wrong, if
    // anything is. Refusals about the credentials or the pod (401, 403, 404) say nothing about
    // SPDY, so later copies ask for it again.
    const int status = spdy.error().http_status;
    if (status != 401 && status != 403 && status != 404) spdy_refused_ = true;
    if (options_.verbosity >= 1 && options_.trace)
      options_.trace("* exec over SPDY/3.1 failed (" + spdy.error().message + "); using a WebSocket");
  }
  WB_ASSIGN_OR_RETURN(auto ws, upgrade(path, {"v5.channel.k8s.io", "v4.channel.k8s.io"}));
  return std::unique_ptr<ExecSession>(
      std::make_unique<WsExecSession>(std::move(ws), std::move(on_stdout), std::move(on_stderr)));
}

Result<std::unique_ptr<http::WebSocket>> HttpClient::upgrade(const std::string& path,
                                                             const std::vector<std::string>& protocols,
                                                             const std::string& accept) {
  for (int attempt = 0;; ++attempt) {
    WB_ASSIGN_OR_RETURN(Credentials creds, credentials());
    WB_ASSIGN_OR_RETURN(auto transport, transport_for(creds));
    http::Request req = base_request("GET", path, creds);
    if (!accept.empty()) req.headers.set("Accept", accept);
    auto ws = transport->open_websocket(req, protocols);
    if (ws) return std::move(*ws);
    const Error& e = ws.error();
    const auto* refused = e.detail<http::UpgradeRefused>();
    if (!refused) return transport_error(e);
    if (refused->status == 401 && attempt == 0 && refreshable()) {
      config_.credentials->invalidate();
      continue;
    }
    Error refusal = in_pod_words(upgrade_error(*refused, e));
    if (!refusal.facts) refusal.with(*refused);  // Forbidden and Missing say more
    return refusal;
  }
}

}  // namespace wb::kube::detail
