#include "http/curl_common.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "util/strings.hpp"

namespace wb::http::detail {

using util::Error;
using util::ErrorCode;
using Kind = TransportFailure::Kind;

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Easy::Easy() : handle_(curl_easy_init()) {
  if (!handle_) throw std::bad_alloc();
}

void SList::append(const std::string& line) {
  curl_slist* next = curl_slist_append(list_, line.c_str());
  if (!next) throw std::bad_alloc();
  list_ = next;
}

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

std::string url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || !value) return {};
  std::string out(value);
  curl_free(value);
  return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && util::iequals(s.substr(0, prefix.size()), prefix);
}

std::string format_ms(std::chrono::milliseconds ms) {
  if (ms.count() < 1000) return std::to_string(ms.count()) + " ms";
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

void set_blob(CURL* h, CURLoption option, const std::string& data) {
  curl_blob blob{const_cast<char*>(data.data()), data.size(), CURL_BLOB_COPY};
  curl_easy_setopt(h, option, &blob);
}

void apply_tls(CURL* h, const TlsOptions& tls) {
  if (tls.insecure) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!tls.ca_data.empty())
    set_blob(h, CURLOPT_CAINFO_BLOB, tls.ca_data);
  else if (!tls.ca_file.empty())
    curl_easy_setopt(h, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.ca_data.empty() || !tls.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  if (!tls.client_cert_data.empty())
    set_blob(h, CURLOPT_SSLCERT_BLOB, tls.client_cert_data);
  else if (!tls.client_cert_file.empty())
    curl_easy_setopt(h, CURLOPT_SSLCERT, tls.client_cert_file.c_str());
  if (!tls.client_key_data.empty())
    set_blob(h, CURLOPT_SSLKEY_BLOB, tls.client_key_data);
  else if (!tls.client_key_file.empty())
    curl_easy_setopt(h, CURLOPT_SSLKEY, tls.client_key_file.c_str());
  curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
  curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);  // names for the "not valid for" message
}

// The names the server's certificate is valid for ("localhost, 127.0.0.1"), from CERTINFO.
std::string certificate_names(CURL* h) {
  curl_certinfo* info = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &info) != CURLE_OK || !info || info->num_of_certs < 1) return {};
  std::string subject;
  for (curl_slist* s = info->certinfo[0]; s; s = s->next) {
    std::string_view line(s->data);
    if (starts_with_ci(line, "X509v3 Subject Alternative Name:")) {
      std::string names = util::trim(line.substr(line.find(':') + 1));
      names = util::replace_all(names, "DNS:", "");
      return util::replace_all(names, "IP Address:", "");
    }
    if (starts_with_ci(line, "Subject:")) subject = std::string(line.substr(8));
  }
  size_t cn = subject.find("CN = ");
  if (cn == std::string::npos) cn = subject.find("CN=");
  if (cn == std::string::npos) return {};
  std::string name = subject.substr(subject.find('=', cn) + 1);
  return util::trim(name.substr(0, name.find(',')));
}

int easy_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool contains(const char* text, std::string_view needle) {
  return text && std::string_view(text).find(needle) != std::string_view::npos;
}

bool tls_alert_client_cert(const char* errbuf) {
  return contains(errbuf, "certificate required") || contains(errbuf, "alert bad certificate") ||
         contains(errbuf, "alert unknown ca") || contains(errbuf, "alert handshake failure");
}

// Whether a failure is a server refusing our (missing) client certificate. Most servers say so
// with a TLS alert. Some just close the connection after the handshake (Python's ssl does), which
// looks like any broken connection; that counts only while this transport never had an answer:
// the Kubernetes API server asks every client for a certificate and takes tokens too, so once it
// answered, a break is a break (retried as one), not a refusal.
bool is_client_cert_refusal(CURLcode code, const TransferState& state) {
  if (tls_alert_client_cert(state.errbuf)) return true;
  const bool connection_failure = code == CURLE_GOT_NOTHING || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
                                  code == CURLE_SSL_CONNECT_ERROR;
  return state.client_cert_requested && !state.answered_before && connection_failure;
}

// OpenSSL calls this when the server requests a client certificate and none is configured.
int note_client_cert_request(SSL* ssl, X509**, EVP_PKEY**) {
  auto* easy = static_cast<Easy*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), easy_index()));
  if (easy) easy->client_cert_requested = true;
  return 0;  // continue without a certificate
}

CURLcode on_ssl_ctx(CURL*, void* ssl_ctx, void* userp) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_ex_data(ctx, easy_index(), userp);
  SSL_CTX_set_client_cert_cb(ctx, note_client_cert_request);
  return CURLE_OK;
}

Error verification_error(CURL* h, CURLcode code, const char* errbuf, const Target& t) {
  if (contains(errbuf, "subject name") || contains(errbuf, "does not match target host")) {
    // With a server-name override the name checked is that name, not the URL's host.
    const std::string checked = t.connect_to.empty() ? t.host : t.connect_to.substr(0, t.connect_to.find(':'));
    const std::string names = certificate_names(h);
    std::string msg = "TLS: the server's certificate is not valid for " + checked;
    if (!names.empty()) msg += " (it is for " + names + ")";
    return with_failure(
        Error(ErrorCode::Failure, msg, "connect by a name the certificate lists, or set tls-server-name to one"),
        Kind::HostnameMismatch, t, code, false);
  }
  if (contains(errbuf, "expired"))
    return with_failure(Error(ErrorCode::Failure, "TLS: the certificate of " + t.origin + " has expired",
                              "if it should not have, check this machine's clock (`date`, NTP)"),
                        Kind::CertificateExpired, t, code);
  if (contains(errbuf, "not yet valid"))
    return with_failure(Error(ErrorCode::Failure, "TLS: the certificate of " + t.origin + " is not valid yet",
                              "this machine's clock is probably behind: check it (`date`, NTP)"),
                        Kind::CertificateNotYetValid, t, code);
  if (contains(errbuf, "certificate problem"))
    return with_failure(
        Error(ErrorCode::Failure, "TLS: the certificate of " + t.origin + " is not signed by a trusted CA",
              "set certificate-authority to the CA that signed it (insecure-skip-tls-verify only on a trusted "
              "network)"),
        Kind::UntrustedCa, t, code);
  return with_failure(Error(ErrorCode::Failure, "TLS: cannot verify the certificate of " + t.origin), Kind::TlsVerify,
                      t, code);
}

Error connect_error(CURL* h, CURLcode code, const Target& t, const std::string& proxy) {
  long os_errno = 0;
  curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
  std::string why = "connection failed";
  Kind kind = Kind::ConnectFailed;
  if (os_errno == ECONNREFUSED) {
    why = "connection refused";
    kind = Kind::Refused;
  } else if (os_errno == EHOSTUNREACH) {
    why = "host unreachable";
    kind = Kind::Unreachable;
  } else if (os_errno == ENETUNREACH) {
    why = "network unreachable";
    kind = Kind::Unreachable;
  } else if (os_errno == ETIMEDOUT) {
    why = "connection timed out";
  }
  std::string via = proxy.empty() ? "" : " through proxy " + redact_text(proxy);
  return with_failure(Error(ErrorCode::Unavailable, "cannot connect to " + t.origin + via + ": " + why), kind, t, code);
}

Error timeout_error(CURL* h, CURLcode code, const Target& t, std::chrono::milliseconds timeout) {
  curl_off_t connected = 0;
  curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
  if (connected == 0)
    return with_failure(Error(ErrorCode::Timeout, "timed out connecting to " + t.origin), Kind::Timeout, t, code);
  std::string msg = "request to " + t.origin + " timed out";
  if (timeout.count() > 0) msg += " after " + format_ms(timeout);
  return with_failure(Error(ErrorCode::Timeout, msg), Kind::Timeout, t, code);
}

}  // namespace

Error with_failure(Error e, TransportFailure::Kind kind, const Target& t, CURLcode code, bool names_origin) {
  TransportFailure f;
  f.kind = kind;
  f.origin = t.origin;
  f.curl_code = static_cast<int>(code);
  if (names_origin) f.named = t.origin;
  return std::move(e).with(std::move(f));
}

util::Result<Target> make_target(const std::string& url_in, const TlsOptions& tls) {
  std::string url = url_in;
  if (starts_with_ci(url, "ws://"))
    url = "http://" + url.substr(5);
  else if (starts_with_ci(url, "wss://"))
    url = "https://" + url.substr(6);
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  TransportFailure bad_url;
  bad_url.kind = Kind::BadUrl;
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    bad_url.named = redact_text(url_in);
    return Error(ErrorCode::Usage, "invalid URL '" + bad_url.named + "'").with(std::move(bad_url));
  }
  Target t;
  const std::string scheme = util::to_lower(url_part(u.get(), CURLUPART_SCHEME));
  if (scheme != "http" && scheme != "https")
    return Error(ErrorCode::Usage, "unsupported URL scheme '" + scheme + "' (use http or https)")
        .with(std::move(bad_url));
  t.tls = scheme == "https";
  t.host = url_part(u.get(), CURLUPART_HOST);
  const std::string port = url_part(u.get(), CURLUPART_PORT);
  t.host_header = port.empty() ? t.host : t.host + ":" + port;
  t.origin = scheme + "://" + t.host_header;
  const std::string query = url_part(u.get(), CURLUPART_QUERY);
  t.path_query = url_part(u.get(), CURLUPART_PATH);
  if (t.path_query.empty()) t.path_query = "/";
  if (!query.empty()) t.path_query += "?" + query;
  t.url = url;
  if (t.tls && !tls.server_name.empty() && !util::iequals(tls.server_name, t.host)) {
    const std::string real_port = url_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    curl_url_set(u.get(), CURLUPART_HOST, tls.server_name.c_str(), 0);
    t.url = url_part(u.get(), CURLUPART_URL);
    t.connect_to = tls.server_name + ":" + real_port + ":" + t.host + ":" + real_port;
  }
  return t;
}

void apply_connection_options(Easy& easy, const ClientOptions& options, const Target& target, TransferState& state) {
  CURL* h = easy.get();
  easy.client_cert_requested = false;
  curl_easy_setopt(h, CURLOPT_URL, target.url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, state.errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  if (!options.proxy.empty()) curl_easy_setopt(h, CURLOPT_PROXY, options.proxy.c_str());
  state.proxy = options.proxy;
  if (!target.connect_to.empty()) {
    state.connect_to.append(target.connect_to);
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, state.connect_to.get());
  }
  if (!target.tls) return;
  apply_tls(h, options.tls);
  curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
  curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, &easy);
}

Error describe_curl_error(CURL* h, CURLcode code, const TransferState& state, const Target& t,
                          std::chrono::milliseconds timeout) {
  const char* errbuf = state.errbuf;
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      return connect_error(h, code, t, state.proxy);
    case CURLE_COULDNT_RESOLVE_HOST:
      return with_failure(Error(ErrorCode::Unavailable, "cannot resolve host '" + t.host + "' (" + t.origin + ")"),
                          Kind::Dns, t, code);
    case CURLE_COULDNT_RESOLVE_PROXY:
      return with_failure(Error(ErrorCode::Unavailable, "cannot resolve the proxy host"), Kind::ProxyDns, t, code,
                          false);
    case CURLE_OPERATION_TIMEDOUT:
      return timeout_error(h, code, t, timeout);
    case CURLE_PEER_FAILED_VERIFICATION:
      return verification_error(h, code, errbuf, t);
    case CURLE_SSL_CACERT_BADFILE:
      return with_failure(Error(ErrorCode::Usage, "TLS: cannot read the certificate authority for " + t.origin),
                          Kind::BadCaFile, t, code);
    case CURLE_SSL_CERTPROBLEM:
      return with_failure(Error(ErrorCode::Usage, "TLS: cannot use the client certificate or key for " + t.origin),
                          Kind::BadClientCert, t, code);
    case CURLE_ABORTED_BY_CALLBACK:
      return Error(ErrorCode::Interrupted, "interrupted");
    case CURLE_TOO_MANY_REDIRECTS:
      return with_failure(Error(ErrorCode::Failure, "too many redirects from " + t.origin), Kind::TooManyRedirects, t,
                          code);
    default:
      break;
  }
  if (is_client_cert_refusal(code, state))
    return with_failure(
        Error(ErrorCode::Auth, "TLS: " + t.origin + " did not accept the client certificate (or none was set)",
              "set client-certificate and client-key to a certificate the server trusts"),
        Kind::ClientCertRefused, t, code);
  if (code == CURLE_SSL_CONNECT_ERROR)
    return with_failure(Error(ErrorCode::Unavailable, "TLS handshake with " + t.origin + " failed"), Kind::TlsHandshake,
                        t, code);
  if (is_retryable_curl_error(code, state))
    return with_failure(Error(ErrorCode::Unavailable, "the connection to " + t.origin + " broke off"), Kind::Broken, t,
                        code);
  return with_failure(Error(ErrorCode::Failure, "request to " + t.origin + " failed: " + curl_easy_strerror(code)),
                      Kind::Other, t, code);
}

bool is_retryable_curl_error(CURLcode code, const TransferState& state) {
  const char* errbuf = state.errbuf;
  if (is_client_cert_refusal(code, state)) return false;
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return true;
    case CURLE_SSL_CONNECT_ERROR:
      return contains(errbuf, "SSL_ERROR_SYSCALL") || contains(errbuf, "reset");
    default:
      return false;
  }
}

void Tracer::header_block(char direction, std::string_view block) const {
  const std::string prefix = std::string(1, direction) + " ";
  for (const std::string& raw : util::split(block, '\n')) {
    std::string line = util::trim(raw);
    if (line.empty()) continue;
    size_t colon = line.find(':');
    bool is_header = colon != std::string::npos && colon > 0 && line.find(' ') > colon;
    line = is_header ? redact_header(line.substr(0, colon), util::trim(line.substr(colon + 1))) : redact_text(line);
    this->line(prefix + line);
  }
}

void Tracer::body(char direction, std::string_view data, size_t total) const {
  const std::string prefix = std::string(1, direction) + " ";
  const bool binary = std::any_of(data.begin(), data.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 && c != '\n' && c != '\r' && c != '\t';
  });
  if (binary) {
    line(prefix + "[" + std::to_string(total) + " bytes of binary data]");
    return;
  }
  for (const std::string& raw : util::split(redact_text(data), '\n')) line(prefix + util::trim(raw));
  if (total > data.size()) line(prefix + "... (" + std::to_string(total - data.size()) + " more bytes)");
}

std::string elapsed_text(std::chrono::steady_clock::time_point start) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return std::to_string(ms.count()) + " ms";
}

}  // namespace wb::http::detail
