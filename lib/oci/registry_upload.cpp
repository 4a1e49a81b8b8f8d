// Blob uploads: monolithic (POST, PUT) or chunked (PATCH), resumed at the offset the registry
// confirms or restarted from a re-opened source after transient failures.
#include <algorithm>
#include <cstring>

#include "oci/registry_internal.hpp"
#include "util/encoding.hpp"
#include "util/numbers.hpp"
#include "util/stop.hpp"
#include "util/strings.hpp"

namespace wb::oci::detail {

namespace {

bool transient(const Result<http::Response>& r) {
  if (!r) return r.error().code == ErrorCode::Unavailable || r.error().code == ErrorCode::Timeout;
  return transient_status(r->status);
}

// The registry lost or refused the upload session (e.g. distribution after a connection was
// cut mid-body: the stored size no longer matches the session state), or stored bytes that do
// not hash to the digest: the upload must start over.
bool session_lost(const Result<http::Response>& r) {
  if (!r || (r->status != 404 && r->status != 400 && r->status != 416)) return false;
  if (r->status == 416) return true;
  const std::string& b = r->body;
  return b.find("BLOB_UPLOAD_UNKNOWN") != std::string::npos || b.find("BLOB_UPLOAD_INVALID") != std::string::npos ||
         b.find("DIGEST_INVALID") != std::string::npos;
}

// Parses "0-<end>" (Range / Docker-Upload-Range headers): the number of bytes stored.
std::optional<int64_t> stored_bytes(const http::Headers& headers) {
  auto range = headers.get("range");
  if (!range) return std::nullopt;
  std::string v = util::trim(*range);
  if (v.rfind("bytes=", 0) == 0) v.erase(0, 6);
  size_t dash = v.find('-');
  if (dash == std::string::npos) return std::nullopt;
  auto start = util::parse_int<int64_t>(std::string_view(v).substr(0, dash), "");
  auto end = util::parse_int<int64_t>(std::string_view(v).substr(dash + 1), "", 0, INT64_MAX - 1);
  if (!start || !end || *start != 0) return std::nullopt;
  // "0-0" is ambiguous (nothing or one byte); assume nothing: a wrong guess costs a restart
  // (the final digest check fails), the other way round a corrupt blob.
  return *end == 0 ? 0 : *end + 1;
}

// Waits before a retry; Ctrl-C ends the wait at once.
Status pause(std::chrono::milliseconds delay) {
  if (!util::sleep_for(delay)) return Error(ErrorCode::Interrupted, "interrupted");
  return {};
}

}  // namespace

// A blob's bytes, read once front to back per open, hashed as they pass.
class BlobStream {
 public:
  explicit BlobStream(const Registry::BlobOpener& open) : open_(open) {}

  // (Re)opens the source and skips to `offset` (hashing the skipped bytes).
  Status open_at(int64_t offset) {
    WB_ASSIGN_OR_RETURN(reader_, open_());
    hasher_ = std::make_unique<util::Sha256>();
    pos_ = 0;
    eof_ = false;
    digest_.clear();
    while (pos_ < offset) {
      WB_ASSIGN_OR_RETURN(std::string skipped, read(static_cast<size_t>(std::min<int64_t>(offset - pos_, 1 << 20))));
      if (skipped.empty())
        return Error(ErrorCode::Failure, "the blob source ended before byte " + std::to_string(offset));
    }
    return {};
  }

  // Up to `max` bytes; fewer only at the end. The buffer grows with what arrives.
  Result<std::string> read(size_t max) {
    std::string out;
    while (out.size() < max && !eof_) {
      const size_t old = out.size();
      out.resize(old + std::min(max - old, kStep));
      WB_ASSIGN_OR_RETURN(size_t n, read_into(out.data() + old, out.size() - old));
      out.resize(old + n);
    }
    return out;
  }

  // Up to `size` bytes into buf (one read of the source); 0 at the end.
  Result<size_t> read_into(char* buf, size_t size) {
    if (eof_ || size == 0) return size_t{0};
    WB_ASSIGN_OR_RETURN(size_t n, reader_(buf, size));
    n = std::min(n, size);
    if (n == 0) eof_ = true;
    hasher_->update(buf, n);
    pos_ += static_cast<int64_t>(n);
    return n;
  }

  bool eof() const { return eof_; }
  int64_t pos() const { return pos_; }
  // "sha256:<hex>" of everything read (valid once eof()).
  const std::string& digest() {
    if (digest_.empty()) digest_ = "sha256:" + hasher_->hex_digest();
    return digest_;
  }

 private:
  static constexpr size_t kStep = 64 * 1024;

  const Registry::BlobOpener& open_;
  http::BodyReader reader_;
  std::unique_ptr<util::Sha256> hasher_;
  int64_t pos_ = 0;
  bool eof_ = false;
  std::string digest_;
};

Result<Descriptor> Client::put_blob(const Reference& repo, const http::BodyReader& reader, int64_t size,
                                    const std::string& known_digest, const std::string& media_type) {
  // A reader can be consumed only once: the source cannot be re-opened.
  return put_blob(repo, open_once(reader), size, known_digest, media_type);
}

Result<Descriptor> Client::put_blob(const Reference& repo, const BlobOpener& open, int64_t size,
                                    const std::string& known_digest, const std::string& media_type) {
  if (!known_digest.empty()) WB_TRY(check_digest(known_digest));
  BlobStream src(open);
  WB_TRY(src.open_at(0));
  std::string head;
  if (size < 0 || size <= options_.monolithic_max) {
    WB_ASSIGN_OR_RETURN(head, src.read(static_cast<size_t>(options_.monolithic_max) + 1));
    if (src.eof()) {
      Descriptor d;
      WB_TRY(finish_descriptor(src, size, known_digest, media_type, d));
      WB_TRY(upload_monolithic(repo, head, d));
      return d;
    }
  }
  return upload_chunked(repo, src, std::move(head), size, known_digest, media_type);
}

Status Client::finish_descriptor(BlobStream& src, int64_t size, const std::string& known_digest,
                                 const std::string& media_type, Descriptor& d) {
  if (size >= 0 && src.pos() != size)
    return Error(ErrorCode::Failure, "the blob has " + std::to_string(src.pos()) + " bytes, not the " +
                                         std::to_string(size) + " announced");
  d.digest = src.digest();
  if (!known_digest.empty() && known_digest != d.digest)
    return Error(ErrorCode::Failure, "the blob's content has digest " + d.digest + ", not " + known_digest);
  d.size = src.pos();
  d.media_type = media_type;
  return {};
}

// POST to open an upload session; returns its absolute URL.
Result<std::string> Client::start_upload(const Reference& repo) {
  http::Request req;
  req.method = "POST";
  req.url = "/v2/" + repo.repository + "/blobs/uploads/";
  req.idempotent = true;  // an unused session is harmless
  WB_ASSIGN_OR_RETURN(http::Response r, call(repo, std::move(req), {repo_scope(repo, "pull,push")}));
  if (r.status != 202) return error_for(r, repo, "push", "upload to " + repo.name());
  auto loc = r.headers.get("location");
  if (!loc || loc->empty())
    return Error(ErrorCode::Failure, "registry " + repo.registry + " opened an upload without a Location");
  return resolve_location(r.effective_url, *loc);
}

Result<http::Response> Client::send_bytes(const Reference& repo, const std::string& method, const std::string& url,
                                          std::string body, const std::string& content_range) {
  http::Request req;
  req.method = method;
  req.url = url;
  req.headers.add("Content-Type", kOctetStream);
  if (!content_range.empty()) req.headers.add("Content-Range", content_range);
  req.body = std::move(body);
  req.idempotent = false;  // retried here, with the registry's view of the upload
  return call(repo, std::move(req), {repo_scope(repo, "pull,push")});
}

Status Client::retry_or_fail(int& failures, const Result<http::Response>& r, const Reference& repo,
                             const std::string& what) {
  if (!(transient(r) || session_lost(r)) || ++failures >= options_.upload_attempts) {
    if (!r) return r.error().with_context(what);
    return error_for(*r, repo, "push", what);
  }
  return pause(options_.upload_retry_delay * failures);
}

void Client::progress(const std::string& digest, int64_t done, int64_t size) {
  if (options_.on_upload_progress) options_.on_upload_progress(digest, done, size);
}

Status Client::upload_monolithic(const Reference& repo, const std::string& data, const Descriptor& d) {
  const std::string what = "uploading blob " + d.digest + " to " + repo.name();
  int failures = 0;
  while (true) {
    auto url = start_upload(repo);
    if (!url) {
      if (!transient(Result<http::Response>(url.error()))) return url.error();
      WB_TRY(retry_or_fail(failures, url.error(), repo, what));
      continue;
    }
    auto r = send_bytes(repo, "PUT", append_query(*url, "digest", d.digest), data, "");
    if (r && (r->status == 201 || r->status == 204)) {
      progress(d.digest, d.size, d.size);
      return {};
    }
    WB_TRY(retry_or_fail(failures, r, repo, what));
  }
}

// A blob going up in PATCH chunks of options_.chunk_size through one upload session: chunks held
// and sent with their Content-Range, or (options_.stream_uploads) streamed from the source as they
// are sent. After a failure it continues where the registry says it stands, or starts over with
// a new session and the source from its start.
class ChunkedUpload {
 public:
  ChunkedUpload(Client& client, const Reference& repo, BlobStream& src, std::string pending, int64_t size,
                const std::string& known_digest, const std::string& media_type)
      : client_(client),
        repo_(repo),
        src_(src),
        pending_(std::move(pending)),
        size_(size),
        known_digest_(known_digest),
        media_type_(media_type),
        what_("uploading blob " + (known_digest.empty() ? std::string("") : known_digest + " ") + "to " + repo.name()),
        chunk_size_(static_cast<size_t>(client.options_.chunk_size)),
        streamed_(client.options_.stream_uploads) {}

  Result<Descriptor> run() {
    WB_ASSIGN_OR_RETURN(url_, client_.start_upload(repo_));
    while (true) {
      if (streamed_) {
        WB_ASSIGN_OR_RETURN(bool more, has_more());
        if (more) {
          WB_TRY(stream_patch());
          continue;
        }
      } else {
        if (confirmed_ == chunk_end()) {
          chunk_start_ = confirmed_;
          WB_ASSIGN_OR_RETURN(chunk_, next_chunk());
        }
        if (!chunk_.empty()) {
          WB_TRY(send_chunk());
          continue;
        }
      }
      WB_ASSIGN_OR_RETURN(std::optional<Descriptor> d, close_session());
      if (d) return *d;
    }
  }

 private:
  static constexpr size_t kLookahead = 64 * 1024;

  // Streamed: whether the source has bytes left to send (read ahead into pending_ to know).
  Result<bool> has_more() {
    if (pending_pos_ < pending_.size()) return true;
    WB_ASSIGN_OR_RETURN(pending_, src_.read(kLookahead));
    pending_pos_ = 0;
    return !pending_.empty();
  }

  // Bytes of the blob taken from the source and handed to a request.
  int64_t handed_out() const { return src_.pos() - static_cast<int64_t>(pending_.size() - pending_pos_); }

  // Streamed: one PATCH of up to chunk_size_ bytes read from the source while it is sent.
  Status stream_patch() {
    const size_t start_pos = pending_pos_;
    size_t sent = 0;
    bool from_source = false;  // read past pending_: the body cannot be sent again
    http::Request req;
    req.method = "PATCH";
    req.url = url_;
    req.headers.add("Content-Type", kOctetStream);
    req.idempotent = false;  // retried here, with the registry's view of the upload
    // libcurl repeats a request whose kept-alive connection died, which needs the body from its
    // start: a stream gets a connection of its own, and a cut is ours to handle.
    req.fresh_connection = true;
    req.body_reader = [&](char* buf, size_t size) -> Result<size_t> {
      size = std::min(size, chunk_size_ - sent);
      size_t n = 0;
      if (pending_pos_ < pending_.size()) {
        n = std::min(size, pending_.size() - pending_pos_);
        std::memcpy(buf, pending_.data() + pending_pos_, n);
        pending_pos_ += n;
      } else if (size > 0) {
        from_source = true;
        WB_ASSIGN_OR_RETURN(n, src_.read_into(buf, size));
      }
      sent += n;
      return n;
    };
    req.rewind = [&] {  // a 401 before the body: send it again with credentials
      if (from_source) return false;
      pending_pos_ = start_pos;
      sent = 0;
      return true;
    };
    auto r = client_.call(repo_, std::move(req), {repo_scope(repo_, "pull,push")});
    return after_patch(r, confirmed_ + static_cast<int64_t>(sent));
  }

  // Streamed: goes on at `stored`, reading the source again up to there when it is behind.
  Status resume_stream_at(int64_t stored, const Error& cause) {
    if (stored == handed_out()) {
      confirmed_ = stored;
      return {};
    }
    if (stored > handed_out() || !src_.open_at(stored)) return restart(cause);
    pending_.clear();
    pending_pos_ = 0;
    confirmed_ = stored;
    return {};
  }

  int64_t chunk_end() const { return chunk_start_ + static_cast<int64_t>(chunk_.size()); }

  // What was read ahead first, then the source.
  Result<std::string> next_chunk() {
    std::string c = pending_.substr(pending_pos_, chunk_size_);
    pending_pos_ += c.size();
    if (c.size() < chunk_size_) {
      pending_.clear();
      pending_pos_ = 0;
      WB_ASSIGN_OR_RETURN(std::string more, src_.read(chunk_size_ - c.size()));
      c += more;
    }
    return c;
  }

  // Sends what the registry lacks of the chunk; after a failure, goes on where the registry
  // stands, or starts over.
  Status send_chunk() {
    const int64_t end = chunk_end();
    const std::string range = std::to_string(confirmed_) + "-" + std::to_string(end - 1);
    auto r =
        client_.send_bytes(repo_, "PATCH", url_, chunk_.substr(static_cast<size_t>(confirmed_ - chunk_start_)), range);
    return after_patch(r, end);
  }

  // The answer to a PATCH of the bytes up to `end`: on to the next ones, or after a failure on
  // from where the registry stands, or over from the start.
  Status after_patch(const Result<http::Response>& r, int64_t end) {
    if (r && r->status == 202) {
      if (auto loc = r->headers.get("location"); loc && !loc->empty()) url_ = resolve_location(url_, *loc);
      auto stored = stored_bytes(r->headers);
      if (stored && *stored != end) {
        WB_TRY(resume(*stored, Error(ErrorCode::Failure, "registry stored an unexpected amount")));
      } else {
        confirmed_ = end;
      }
      client_.progress(known_digest_, confirmed_, size_);
      return {};
    }
    WB_TRY(client_.retry_or_fail(failures_, r, repo_, what_));
    const Error cause = r ? Error(ErrorCode::Unavailable, "registry answered " + std::to_string(r->status)) : r.error();
    if (session_lost(r)) return restart(cause);
    std::optional<int64_t> stored = ask_stored();
    return stored ? resume(*stored, cause) : restart(cause);
  }

  Status resume(int64_t stored, const Error& cause) {
    return streamed_ ? resume_stream_at(stored, cause) : resume_at(stored, cause);
  }

  // Asks where the upload stands: the bytes the registry holds, when it says.
  std::optional<int64_t> ask_stored() {
    http::Request status_req;
    status_req.url = url_;
    auto st = client_.call(repo_, std::move(status_req), {repo_scope(repo_, "pull,push")});
    std::optional<int64_t> stored;
    if (st && (st->status == 204 || st->status == 200)) {
      stored = stored_bytes(st->headers);
      if (auto loc = st->headers.get("location"); loc && !loc->empty()) url_ = resolve_location(url_, *loc);
    }
    return stored;
  }

  // Everything sent: closes the session with the digest. Nullopt when it started over instead.
  Result<std::optional<Descriptor>> close_session() {
    Descriptor d;
    WB_TRY(client_.finish_descriptor(src_, size_, known_digest_, media_type_, d));
    auto r = client_.send_bytes(repo_, "PUT", append_query(url_, "digest", d.digest), "", "");
    if (r && (r->status == 201 || r->status == 204)) {
      client_.progress(d.digest, d.size, d.size);
      return std::optional<Descriptor>(d);
    }
    WB_TRY(client_.retry_or_fail(failures_, r, repo_, what_));
    // The answer may have been lost after the registry committed the blob.
    if (auto has = client_.has_blob(repo_, d.digest); has && *has) return std::optional<Descriptor>(d);
    WB_TRY(restart(r ? Error(ErrorCode::Unavailable, "registry answered " + std::to_string(r->status)) : r.error()));
    return std::optional<Descriptor>();
  }

  // Starts over: a new session, the source from its start.
  Status restart(const Error& cause) {
    if (!src_.open_at(0)) return cause;
    pending_.clear();
    pending_pos_ = 0;
    chunk_.clear();
    confirmed_ = chunk_start_ = 0;
    WB_ASSIGN_OR_RETURN(url_, client_.start_upload(repo_));
    return {};
  }

  // Continues at `stored` (what the registry reports holding).
  Status resume_at(int64_t stored, const Error& cause) {
    if (stored >= chunk_start_ && stored <= chunk_end()) {
      confirmed_ = stored;
      return {};
    }
    if (stored > chunk_end()) return restart(cause);  // more than we sent: do not trust it
    if (!src_.open_at(stored)) return restart(cause);
    pending_.clear();
    pending_pos_ = 0;
    chunk_.clear();
    confirmed_ = chunk_start_ = stored;
    return {};
  }

  Client& client_;
  const Reference& repo_;
  BlobStream& src_;
  std::string pending_;  // read ahead (to tell a small blob from a big one, or the end), sent first
  size_t pending_pos_ = 0;
  const int64_t size_;
  const std::string& known_digest_;
  const std::string& media_type_;
  const std::string what_;
  const size_t chunk_size_;
  const bool streamed_;
  int failures_ = 0;
  std::string url_;          // the upload session
  int64_t confirmed_ = 0;    // bytes the registry holds
  int64_t chunk_start_ = 0;  // offset of chunk_[0] in the blob
  std::string chunk_;
};

Result<Descriptor> Client::upload_chunked(const Reference& repo, BlobStream& src, std::string pending, int64_t size,
                                          const std::string& known_digest, const std::string& media_type) {
  return ChunkedUpload(*this, repo, src, std::move(pending), size, known_digest, media_type).run();
}

}  // namespace wb::oci::detail
