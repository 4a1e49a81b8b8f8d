// An HTTP/1.1 connection upgraded to another protocol: see upgraded.hpp.
#include "http/upgraded.hpp"

#include <poll.h>

#include <cerrno>
#include <charconv>

#include "util/interrupt.hpp"
#include "util/numbers.hpp"
#include "util/strings.hpp"

namespace wb::http::detail {

namespace {

using util::Error;
using util::ErrorCode;
using util::Status;
using Kind = TransportFailure::Kind;

constexpr size_t kMaxHandshakeBytes = 64 * 1024;
constexpr std::chrono::seconds kDefaultHandshakeTimeout{30};
constexpr std::chrono::seconds kBodyWait{2};

// Decodes a complete chunked body; returns what could be decoded.
std::string dechunk(std::string_view raw) {
  std::string out;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    size_t size = 0;  // hex digits, then maybe ";extension"
    std::from_chars(raw.data() + pos, raw.data() + eol, size, 16);
    if (size == 0) break;
    out.append(raw.substr(eol + 2, size));
    pos = eol + 2 + size + 2;
  }
  return out;
}

HttpHead parse_head(std::string_view head) {
  HttpHead h;
  std::vector<std::string> lines = util::split(head, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = util::trim(lines[i]);
    if (i == 0) {
      std::vector<std::string> parts = util::split(line, ' ');
      if (parts.size() >= 2) h.status = util::parse_int<int>(parts[1], "").value_or(0);
      if (parts.size() >= 3) h.reason = line.substr(parts[0].size() + parts[1].size() + 2);
    } else if (size_t colon = line.find(':'); colon != std::string::npos) {
      h.headers.add(util::trim(line.substr(0, colon)), util::trim(line.substr(colon + 1)));
    }
  }
  return h;
}

int on_connect_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) { return util::interrupted() ? 1 : 0; }

}  // namespace

bool has_token(const std::string& list, std::string_view token) {
  for (const std::string& part : util::split(list, ','))
    if (util::iequals(util::trim(part), token)) return true;
  return false;
}

UpgradedSocket::UpgradedSocket(EasyHandle handle, std::unique_ptr<TransferState> state, Target target,
                               const ClientOptions& options, std::string what)
    : state_(std::move(state)),
      handle_(std::move(handle)),
      target_(std::move(target)),
      options_(options),
      tracer_(options_),
      what_(std::move(what)) {
  curl_easy_getinfo(handle_->get(), CURLINFO_ACTIVESOCKET, &socket_);
}

util::Result<std::unique_ptr<UpgradedSocket>> UpgradedSocket::connect(const ClientOptions& options,
                                                                      bool answered_before, const Request& request,
                                                                      std::string what) {
  ensure_curl_initialized();
  WB_ASSIGN_OR_RETURN(Target target, make_target(request.url, options.tls));
  auto handle = std::make_unique<Easy>();
  CURL* h = handle->get();
  auto state = std::make_unique<TransferState>();
  apply_connection_options(*handle, options, target, *state);
  curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_connect_progress);
  const CURLcode rc = curl_easy_perform(h);
  state->client_cert_requested = handle->client_cert_requested;
  state->answered_before = answered_before;
  if (rc != CURLE_OK) return describe_curl_error(h, rc, *state, target, options.connect_timeout);
  return std::make_unique<UpgradedSocket>(std::move(handle), std::move(state), std::move(target), options,
                                          std::move(what));
}

UpgradedSocket::Clock::time_point UpgradedSocket::handshake_deadline(const ClientOptions& options,
                                                                     const Request& request) {
  const auto timeout = request.timeout.value_or(options.request_timeout);
  return Clock::now() + (timeout.count() > 0 ? timeout : std::chrono::milliseconds(kDefaultHandshakeTimeout));
}

util::Result<HttpHead> UpgradedSocket::upgrade(const Request& req, const Headers& extra, Deadline deadline,
                                               std::string& rest) {
  std::string head_text = req.method + " " + target_.path_query + " HTTP/1.1\r\nHost: " + target_.host_header +
                          "\r\nUpgrade: " + what_ + "\r\nConnection: Upgrade\r\n";
  for (const auto& [name, value] : extra.items()) head_text += name + ": " + value + "\r\n";
  if (!req.headers.get("user-agent")) head_text += "User-Agent: " + options_.user_agent + "\r\n";
  if (req.method != "GET" && !req.headers.get("content-length")) head_text += "Content-Length: 0\r\n";
  for (const auto& [name, value] : req.headers.items()) {
    const std::string lower = util::to_lower(name);
    if (lower == "host" || lower == "upgrade" || lower == "connection" || lower.rfind("sec-websocket-", 0) == 0)
      continue;
    head_text += name + ": " + value + "\r\n";
  }
  head_text += "\r\n";
  const auto start = Clock::now();
  if (tracer_.enabled(1)) tracer_.line("> " + req.method + " " + redact_text(req.url) + " (" + what_ + ")");
  if (tracer_.enabled(2)) tracer_.header_block('>', head_text.substr(head_text.find('\n') + 1));
  WB_TRY(write_all(head_text));
  std::string data;
  size_t head_end = std::string::npos;
  char buf[65536];
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    if (data.size() > kMaxHandshakeBytes)
      return failure(
          Error(ErrorCode::Failure, what_ + " handshake with " + target_.origin + " failed: answer too large"),
          Kind::Other);
    WB_ASSIGN_OR_RETURN(size_t n, read_some(buf, sizeof buf, deadline));
    if (n == 0)
      return failure(
          Error(ErrorCode::Unavailable, target_.origin + " closed the connection during the " + what_ + " handshake"),
          Kind::Broken);
    data.append(buf, n);
  }
  HttpHead head = parse_head(std::string_view(data).substr(0, head_end));
  if (tracer_.enabled(1)) tracer_.line("< " + std::to_string(head.status) + " (" + elapsed_text(start) + ")");
  if (tracer_.enabled(2)) tracer_.header_block('<', data.substr(data.find('\n') + 1, head_end - data.find('\n')));
  std::string after = data.substr(head_end + 4);
  if (head.status != 101) return refusal(head, std::move(after), deadline);
  rest.append(after);
  return head;
}

// A non-101 answer: an Error carrying the status and the body.
Error UpgradedSocket::refusal(const HttpHead& head, std::string body, Deadline deadline) {
  const bool chunked = has_token(head.headers.get("transfer-encoding").value_or(""), "chunked");
  const auto length = head.headers.get("content-length");
  const size_t want = length ? util::parse_int<size_t>(*length, "").value_or(0) : kMaxHandshakeBytes;
  const Deadline body_deadline = std::min(deadline.value_or(Clock::now() + kBodyWait), Clock::now() + kBodyWait);
  char buf[65536];
  while (body.size() < std::min(want, kMaxHandshakeBytes) &&
         !(chunked && body.find("0\r\n\r\n") != std::string::npos)) {
    auto n = read_some(buf, sizeof buf, body_deadline);
    if (!n || *n == 0) break;
    body.append(buf, *n);
  }
  if (chunked) body = dechunk(body);
  if (length) body = body.substr(0, want);
  return upgrade_refused_error(target_.origin, head.status, head.reason, body);
}

util::Result<size_t> UpgradedSocket::read_some(char* buf, size_t size, Deadline deadline) {
  while (true) {
    size_t got = 0;
    CURLcode rc;
    {
      std::lock_guard<std::mutex> lock(io_mu_);
      rc = curl_easy_recv(handle_->get(), buf, size, &got);
    }
    if (rc == CURLE_OK) return got;
    if (rc != CURLE_AGAIN) return broken();
    WB_TRY(wait_socket(POLLIN, deadline));
  }
}

Status UpgradedSocket::write_all(std::string_view data) {
  while (!data.empty()) {
    size_t sent = 0;
    CURLcode rc;
    {
      std::lock_guard<std::mutex> lock(io_mu_);
      rc = curl_easy_send(handle_->get(), data.data(), data.size(), &sent);
    }
    if (rc == CURLE_OK)
      data.remove_prefix(sent);
    else if (rc == CURLE_AGAIN)
      WB_TRY(wait_socket(POLLOUT, std::nullopt));
    else
      return broken();
  }
  return {};
}

Error UpgradedSocket::broken() const {
  return failure(Error(ErrorCode::Unavailable, "the " + what_ + " connection to " + target_.origin + " broke off"),
                 Kind::Broken);
}

Error UpgradedSocket::failure(Error e, TransportFailure::Kind kind) const {
  return with_failure(std::move(e), kind, target_);
}

// Polls in short slices so that Ctrl-C and the deadline are noticed.
Status UpgradedSocket::wait_socket(short events, Deadline deadline) const {
  while (true) {
    if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
    if (events == POLLOUT && no_send_wait_)
      return failure(Error(ErrorCode::Unavailable, target_.origin + " stopped reading the " + what_ + " connection"),
                     Kind::Broken);
    auto slice = std::chrono::milliseconds(100);
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0)
        return failure(Error(ErrorCode::Timeout, "no " + what_ + " message from " + target_.origin + " in time"),
                       Kind::Timeout);
      slice = std::min(slice, left);
    }
    pollfd pfd{static_cast<int>(socket_), events, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(slice.count()));
    if (r > 0) return {};
    if (r < 0 && errno != EINTR) return broken();
  }
}

namespace {

class CurlUpgraded final : public UpgradedConnection {
 public:
  CurlUpgraded(std::unique_ptr<UpgradedSocket> sock, Headers headers, std::string pending)
      : sock_(std::move(sock)), headers_(std::move(headers)), pending_(std::move(pending)) {}

  const Headers& headers() const override { return headers_; }

  util::Result<size_t> read(char* buf, size_t size, std::chrono::milliseconds timeout) override {
    if (pending_offset_ < pending_.size()) {  // bytes that came with the 101 answer
      const size_t n = std::min(size, pending_.size() - pending_offset_);
      std::copy_n(pending_.data() + pending_offset_, n, buf);
      pending_offset_ += n;
      if (pending_offset_ == pending_.size()) std::string().swap(pending_);
      return n;
    }
    UpgradedSocket::Deadline deadline;
    if (timeout.count() > 0) deadline.emplace(UpgradedSocket::Clock::now() + timeout);
    return sock_->read_some(buf, size, deadline);
  }

  util::Status write(std::string_view data) override { return sock_->write_all(data); }
  void stop_waiting_to_send() override { sock_->stop_waiting_to_send(); }

 private:
  std::unique_ptr<UpgradedSocket> sock_;
  Headers headers_;
  std::string pending_;
  size_t pending_offset_ = 0;
};

}  // namespace

util::Result<std::unique_ptr<UpgradedConnection>> open_upgraded(const ClientOptions& options, bool answered_before,
                                                                const Request& request, const std::string& protocol) {
  WB_ASSIGN_OR_RETURN(auto sock, UpgradedSocket::connect(options, answered_before, request, protocol));
  std::string rest;
  WB_ASSIGN_OR_RETURN(HttpHead answer,
                      sock->upgrade(request, {}, UpgradedSocket::handshake_deadline(options, request), rest));
  if (!util::iequals(answer.headers.get("upgrade").value_or(""), protocol) ||
      !has_token(answer.headers.get("connection").value_or(""), "upgrade"))
    return sock->failure(
        util::Error(util::ErrorCode::Failure, protocol + " upgrade with " + sock->target().origin +
                                                  " failed: the server did not upgrade the connection"),
        TransportFailure::Kind::Other);
  return std::unique_ptr<UpgradedConnection>(
      std::make_unique<CurlUpgraded>(std::move(sock), std::move(answer.headers), std::move(rest)));
}

}  // namespace wb::http::detail

namespace wb::http {

util::Result<std::unique_ptr<UpgradedConnection>> Transport::open_upgraded(const Request&,
                                                                           const std::string& protocol) {
  return util::Error(util::ErrorCode::Failure, "this transport cannot upgrade a connection to " + protocol);
}

}  // namespace wb::http
