// The libcurl Transport: a pool of easy handles (each keeps its connection cache), retries with
// backoff for idempotent requests, streaming bodies and a redacted trace.
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "http/curl_common.hpp"
#include "util/interrupt.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"

namespace wb::http {

namespace {

using detail::EasyHandle;
using detail::Target;
using detail::Tracer;
using util::Error;
using util::ErrorCode;

constexpr size_t kMaxIdleHandles = 8;

// Easy handles not in use; a handle keeps its live connections between requests.
class HandlePool {
 public:
  EasyHandle acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        EasyHandle h = std::move(idle_.back());
        idle_.pop_back();
        return h;
      }
    }
    return std::make_unique<detail::Easy>();
  }
  // Clears the options (which point into the finished transfer) but keeps the connections.
  void release(EasyHandle h) {
    curl_easy_reset(h->get());
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(h));
  }

 private:
  std::mutex mu_;
  std::vector<EasyHandle> idle_;
};

bool is_idempotent_method(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
    if (util::iequals(method, m)) return true;
  return false;
}

bool is_retryable_status(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

bool is_followed_redirect(int status, const Headers& headers) {
  return (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
         headers.get("location").has_value();
}

double random01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// Waits before a retry; Ctrl-C ends the wait at once.
util::Status sleep_interruptible(std::chrono::milliseconds delay) {
  if (!util::sleep_for(delay)) return Error(ErrorCode::Interrupted, "interrupted");
  return {};
}

// State of one attempt, reached from the curl callbacks.
struct Attempt {
  Attempt(const Request& r, const Tracer& t, bool retry) : req(r), tracer(t), may_retry(retry) {}
  const Request& req;
  const Tracer& tracer;
  const bool may_retry;  // a retryable status will be retried: keep it from the callbacks
  Response response;
  Headers block;  // headers of the response being read (there may be several)
  int block_status = 0;
  bool final_seen = false;  // the final response's headers are complete
  bool swallow = false;     // the final response will be retried: do not pass it on
  size_t delivered = 0;     // bytes handed to on_body
  size_t uploaded = 0;      // bytes taken from body_reader
  std::optional<Error> reader_error;
  bool sink_stopped = false;
  bool transient = false;  // the transport failure may go away on a retry
  size_t header_bytes = 0, header_lines = 0;
  enum class Overflow { None, Headers, Body } overflow = Overflow::None;  // a limit stopped the transfer
  std::string trace_out, trace_in;
  size_t trace_out_total = 0, trace_in_total = 0;
  bool trace_out_flushed = false;
  std::exception_ptr exception;  // thrown by caller code inside a callback; rethrown after
};

// Runs a callback body: an exception must not cross libcurl's C frames, so it is kept for
// after the transfer and `on_throw` (which makes curl abort) is returned instead.
template <class R, class F>
R guarded(Attempt& a, R on_throw, F&& body) {
  try {
    return body();
  } catch (...) {
    a.exception = std::current_exception();
    return on_throw;
  }
}

int parse_status_line(std::string_view line) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return 0;
  int status = 0;
  for (size_t i = sp + 1; i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])); ++i)
    status = status * 10 + (line[i] - '0');
  return status;
}

void end_of_header_block(Attempt& a) {
  const int status = a.block_status;
  if (status < 200 || (a.req.follow_redirects && is_followed_redirect(status, a.block))) return;
  a.final_seen = true;
  a.response.status = status;
  a.response.headers = a.block;
  a.swallow = a.may_retry && is_retryable_status(status);
  if (!a.swallow && a.req.on_headers) a.req.on_headers(status, a.response.headers);
}

size_t read_header_line(Attempt& a, std::string_view line) {
  a.header_bytes += line.size();
  if (a.header_bytes > kMaxHeaderBytes || ++a.header_lines > kMaxHeaderLines) {
    a.overflow = Attempt::Overflow::Headers;
    return 0;
  }
  if (line.substr(0, 5) == "HTTP/") {
    a.block = Headers();
    a.block_status = parse_status_line(line);
    a.final_seen = false;
    return line.size();
  }
  if (a.final_seen) return line.size();  // trailers
  const std::string text = util::trim(line);
  if (text.empty()) {
    end_of_header_block(a);
  } else if (size_t colon = text.find(':'); colon != std::string::npos) {
    a.block.add(util::trim(text.substr(0, colon)), util::trim(text.substr(colon + 1)));
  }
  return line.size();
}

size_t on_header(char* data, size_t size, size_t count, void* userp) {
  auto& a = *static_cast<Attempt*>(userp);
  return guarded(a, size_t{0}, [&] { return read_header_line(a, std::string_view(data, size * count)); });
}

bool is_success(int status) { return status >= 200 && status < 300; }

// How much of the answer being read may be kept in Response::body.
size_t body_limit(const Attempt& a) {
  return is_success(a.response.status) ? a.req.max_body : std::min(a.req.max_body, kMaxErrorBody);
}

size_t take_body(Attempt& a, char* data, size_t n) {
  if (a.swallow || !a.req.on_body) {
    const size_t room = body_limit(a) - std::min(body_limit(a), a.response.body.size());
    if (n > room) {
      a.response.body.append(data, room);
      a.overflow = Attempt::Overflow::Body;
      return 0;
    }
    a.response.body.append(data, n);
    return n;
  }
  a.delivered += n;
  if (!a.req.on_body(std::string_view(data, n))) {
    a.sink_stopped = true;
    return 0;
  }
  return n;
}

size_t on_write(char* data, size_t size, size_t count, void* userp) {
  auto& a = *static_cast<Attempt*>(userp);
  return guarded(a, size_t{0}, [&] { return take_body(a, data, size * count); });
}

size_t on_read(char* buf, size_t size, size_t count, void* userp) {
  auto& a = *static_cast<Attempt*>(userp);
  return guarded(a, size_t{CURL_READFUNC_ABORT}, [&]() -> size_t {
    util::Result<size_t> r = a.req.body_reader(buf, size * count);
    if (!r) {
      a.reader_error = r.error();
      return CURL_READFUNC_ABORT;
    }
    a.uploaded += *r;
    return std::min(*r, size * count);
  });
}

int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) { return util::interrupted() ? 1 : 0; }

void keep_for_trace(std::string& buf, size_t& total, const char* data, size_t size) {
  total += size;
  if (buf.size() < Tracer::kBodyLimit) buf.append(data, std::min(size, Tracer::kBodyLimit - buf.size()));
}

void flush_trace_out(Attempt& a) {
  if (a.trace_out_flushed) return;
  a.trace_out_flushed = true;
  if (a.trace_out_total) a.tracer.body('>', a.trace_out, a.trace_out_total);
}

void trace_debug(Attempt& a, curl_infotype type, char* data, size_t size) {
  std::string_view text(data, size);
  switch (type) {
    case CURLINFO_HEADER_OUT:  // the request line was traced already
      a.tracer.header_block('>', text.substr(std::min(text.find('\n'), text.size())));
      break;
    case CURLINFO_HEADER_IN:
      flush_trace_out(a);
      a.tracer.header_block('<', text);
      break;
    case CURLINFO_DATA_OUT:
      if (a.tracer.enabled(3)) keep_for_trace(a.trace_out, a.trace_out_total, data, size);
      break;
    case CURLINFO_DATA_IN:
      if (a.tracer.enabled(3)) keep_for_trace(a.trace_in, a.trace_in_total, data, size);
      break;
    default:
      break;
  }
}

int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* userp) {
  auto& a = *static_cast<Attempt*>(userp);
  guarded(a, 0, [&] {
    trace_debug(a, type, data, size);
    return 0;
  });
  return 0;
}

void set_method_and_body(CURL* h, const Request& req, Attempt& a, detail::SList& headers) {
  const std::string& m = req.method;
  const bool streaming = static_cast<bool>(req.body_reader);
  const bool has_body = streaming || !req.body.empty() || util::iequals(m, "POST") || util::iequals(m, "PUT") ||
                        util::iequals(m, "PATCH");
  if (util::iequals(m, "HEAD")) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (streaming) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &a);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_size));
    if (!util::iequals(m, "PUT")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
  } else if (has_body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    if (!util::iequals(m, "POST")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
  } else if (!util::iequals(m, "GET")) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  if (!req.headers.get("content-type") && has_body && !util::iequals(m, "HEAD"))
    headers.append(streaming || !req.body.empty() ? "Content-Type: application/octet-stream" : "Content-Type:");
}

void set_headers(CURL* h, const Request& req, const Target& t, detail::SList& list) {
  for (const auto& [name, value] : req.headers.items()) list.append(value.empty() ? name + ";" : name + ": " + value);
  list.append("Expect:");  // no 100-continue round trip
  if (!t.connect_to.empty() && !req.headers.get("host")) list.append("Host: " + t.host_header);
  if (!req.headers.get("accept-encoding")) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
}

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(const ClientOptions& options) : options_(options), tracer_(options_) {
    detail::ensure_curl_initialized();
  }

  Result<Response> send(const Request& req) override {
    WB_ASSIGN_OR_RETURN(Target target, detail::make_target(req.url, options_.tls));
    const bool idempotent = req.idempotent.value_or(is_idempotent_method(req.method));
    const int max_retries = idempotent ? std::max(0, options_.max_retries) : 0;
    for (int attempt = 0;; ++attempt) {
      if (util::interrupted()) return Error(ErrorCode::Interrupted, "interrupted");
      Attempt a(req, tracer_, attempt < max_retries);
      std::optional<Error> error;
      std::string reason;
      perform(req, target, a, error);
      if (error) {
        if (!a.may_retry || !retryable_failure(a) || !can_resend(req, a)) return *std::move(error);
        reason = error->message;
      } else if (!a.swallow) {
        return std::move(a.response);
      } else if (!can_resend(req, a)) {
        return replay(req, std::move(a.response));
      } else {
        reason = std::to_string(a.response.status);
      }
      const auto delay = retry_delay(attempt, a);
      if (tracer_.enabled(1))
        tracer_.line("* retrying " + req.method + " in " + std::to_string(delay.count()) + " ms (" + reason + ")");
      WB_TRY(sleep_interruptible(delay));
    }
  }

  Result<std::unique_ptr<WebSocket>> open_websocket(const Request& request,
                                                    const std::vector<std::string>& protocols) override {
    return detail::open_websocket(options_, answered_.load(), request, protocols);
  }

  Result<std::unique_ptr<UpgradedConnection>> open_upgraded(const Request& request,
                                                            const std::string& protocol) override {
    return detail::open_upgraded(options_, answered_.load(), request, protocol);
  }

 private:
  // One try. Sets `error` on a transport failure; otherwise a.response holds the answer.
  void perform(const Request& req, const Target& target, Attempt& a, std::optional<Error>& error) {
    EasyHandle h = pool_.acquire();
    CURL* c = h->get();
    detail::TransferState state;
    detail::apply_connection_options(*h, options_, target, state);
    set_method_and_body(c, req, a, state.headers);
    set_headers(c, req, target, state.headers);
    set_callbacks(c, a);
    const auto timeout = req.timeout.value_or(options_.request_timeout);
    if (timeout.count() > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, req.fresh_connection ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));

    const auto start = std::chrono::steady_clock::now();
    if (tracer_.enabled(1)) tracer_.line("> " + req.method + " " + redact_text(req.url));
    const CURLcode rc = curl_easy_perform(c);
    state.client_cert_requested = h->client_cert_requested;
    state.answered_before = answered_.load();
    // An error answer cut at its limit is still the answer (its status is what matters).
    const bool cut_error_answer = a.overflow == Attempt::Overflow::Body && !is_success(a.response.status);
    if (rc != CURLE_OK && !cut_error_answer) {
      error = failure(c, rc, state, target, a, timeout);
      a.transient = detail::is_retryable_curl_error(rc, state);
    }
    finish(c, a, rc);
    if (a.response.status > 0 || a.final_seen) answered_ = true;
    pool_.release(std::move(h));
    if (a.exception) std::rethrow_exception(a.exception);
    trace_result(a, error, start);
  }

  void set_callbacks(CURL* c, Attempt& a) {
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    if (tracer_.enabled(2)) {
      curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
      curl_easy_setopt(c, CURLOPT_DEBUGDATA, &a);
      curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    }
  }

  Error failure(CURL* c, CURLcode rc, const detail::TransferState& state, const Target& target, const Attempt& a,
                std::chrono::milliseconds timeout) const {
    if (a.reader_error) return *a.reader_error;
    if (a.overflow == Attempt::Overflow::Headers)
      return too_large(target,
                       "more than " + size_words(kMaxHeaderBytes) + " of headers (or more than " +
                           std::to_string(kMaxHeaderLines) + " lines)",
                       kMaxHeaderBytes);
    // libcurl refuses one header line longer than CURL_MAX_HTTP_HEADER, as running out of memory.
    if (rc == CURLE_OUT_OF_MEMORY && a.header_lines > 0 && !a.final_seen)
      return too_large(target, "a header line longer than " + size_words(CURL_MAX_HTTP_HEADER), CURL_MAX_HTTP_HEADER);
    if (a.overflow == Attempt::Overflow::Body)
      return too_large(target, "an answer larger than " + size_words(a.req.max_body), a.req.max_body);
    if (a.sink_stopped || (rc == CURLE_WRITE_ERROR && a.req.on_body))
      return Error(ErrorCode::Interrupted, "stopped reading the response from " + target.origin);
    return detail::describe_curl_error(c, rc, state, target, timeout);
  }

  static Error too_large(const Target& target, const std::string& what, size_t limit) {
    TransportFailure f;
    f.kind = TransportFailure::Kind::TooLarge;
    f.origin = f.named = target.origin;
    f.limit = limit;
    return Error(ErrorCode::Failure, target.origin + " sent " + what + ": not read further").with(std::move(f));
  }

  static void finish(CURL* c, Attempt& a, CURLcode rc) {
    if (rc == CURLE_OK && !a.final_seen) {
      long status = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      a.response.status = static_cast<int>(status);
    }
    char* url = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url) a.response.effective_url = url;
  }

  void trace_result(Attempt& a, const std::optional<Error>& error, std::chrono::steady_clock::time_point start) {
    if (tracer_.enabled(3)) {
      flush_trace_out(a);
      if (a.trace_in_total) tracer_.body('<', a.trace_in, a.trace_in_total);
    }
    if (!tracer_.enabled(1)) return;
    if (error)
      tracer_.line("< error: " + error->message + " (" + detail::elapsed_text(start) + ")");
    else
      tracer_.line("< " + std::to_string(a.response.status) + " (" + detail::elapsed_text(start) + ")");
  }

  static bool retryable_failure(const Attempt& a) {
    return a.transient && !a.reader_error && !a.sink_stopped && a.delivered == 0;
  }

  // A streaming upload that consumed bytes can only be repeated after a successful rewind.
  static bool can_resend(const Request& req, const Attempt& a) {
    if (!req.body_reader || a.uploaded == 0) return true;
    return req.rewind && req.rewind();
  }

  // Hands a held-back response to the streaming callbacks when it will not be retried after all.
  static Response replay(const Request& req, Response response) {
    if (req.on_headers) req.on_headers(response.status, response.headers);
    if (req.on_body) {
      if (!response.body.empty()) req.on_body(response.body);
      response.body.clear();
    }
    return response;
  }

  std::chrono::milliseconds retry_delay(int attempt, const Attempt& a) const {
    if (auto header = a.response.headers.get("retry-after"); header && a.swallow) {
      if (auto after = parse_retry_after(*header))
        return retry_after_delay(*after, options_.retry_after_max, random01());
    }
    return backoff_delay(attempt, options_.retry_base_delay, options_.retry_max_delay, random01());
  }

  const ClientOptions options_;
  const Tracer tracer_;
  HandlePool pool_;
  std::atomic<bool> answered_{false};  // some request had an HTTP answer (see TransferState)
};

}  // namespace

std::unique_ptr<Transport> make_transport(const ClientOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace wb::http
