// pods/exec over SPDY/3.1: the framing, the header blocks (read back with zlib), and a bulk exec's
// streams, stdin, output, exit status and fallback to the WebSocket.
#include <zlib.h>

#include "fakes.hpp"
#include "kube/client.hpp"
#include "kube/spdy.hpp"

using namespace wb;
using namespace wb::kube;
using util::ErrorCode;
using wb::kube::test::append_to;
using wb::kube::test::binary;
using wb::kube::test::client_for;
using wb::kube::test::FakeTransport;

namespace {

constexpr const char* kPath =
    "/api/v1/namespaces/shop/pods/web-1/exec?command=cat&container=web&stdin=true&stdout=true"
    "&stderr=true&tty=false";

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string data_frame(uint32_t stream, std::string_view payload, uint8_t flags = 0) {
  std::string f;
  spdy::append_data_header(f, stream, flags, static_cast<uint32_t>(payload.size()));
  return f.append(payload);
}

std::string control_frame(uint16_t type, std::string_view payload) {
  std::string f = be32(0x80030000u | type) + be32(static_cast<uint32_t>(payload.size()));
  return f.append(payload);
}

// All frames in `bytes`, which must be whole.
std::vector<spdy::Frame> frames_of(const std::string& bytes) {
  spdy::FrameReader r;
  r.feed(bytes);
  std::vector<spdy::Frame> out;
  while (true) {
    auto f = r.next();
    REQUIRE(f);
    if (!*f) break;
    out.push_back(std::move(**f));
  }
  return out;
}

// Inflates header blocks as one zlib stream, block by block (each must come out whole).
class Inflater {
 public:
  Inflater() { REQUIRE(inflateInit(&z_) == Z_OK); }
  ~Inflater() { inflateEnd(&z_); }
  std::string block(const std::string& in) {
    std::string out(1 << 20, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z_, Z_SYNC_FLUSH);
    REQUIRE(rc == Z_OK);
    CHECK(z_.avail_in == 0);
    out.resize(out.size() - z_.avail_out);
    return out;
  }

 private:
  z_stream z_{};
};

std::string pairs(const std::vector<std::pair<std::string, std::string>>& h) {
  std::string out = be32(static_cast<uint32_t>(h.size()));
  for (const auto& [n, v] : h)
    out += be32(static_cast<uint32_t>(n.size())) + n + be32(static_cast<uint32_t>(v.size())) + v;
  return out;
}

// `cat` in container web with stdin, as a copy runs it.
ExecOptions bulk_cat() {
  ExecOptions o;
  o.container = "web";
  o.command = {"cat"};
  o.stdin = true;
  o.bulk = true;
  return o;
}

const std::string kSuccess = R"({"metadata":{},"status":"Success"})";

}  // namespace

TEST_CASE("spdy: data frames, SYN_STREAM and PING are laid out as SPDY/3.1 says", "[spdy]") {
  std::string d;
  spdy::append_data_header(d, 3, spdy::kFlagFin, 5);
  CHECK(d == std::string("\x00\x00\x00\x03\x01\x00\x00\x05", 8));

  const std::string syn = spdy::syn_stream(5, 0, "HB");
  CHECK(syn.substr(0, 8) == be32(0x80030001u) + be32(12));
  CHECK(syn.substr(8, 4) == be32(5));
  CHECK(syn.substr(12, 4) == be32(0));               // associated-to
  CHECK(syn.substr(16, 2) == std::string(2, '\0'));  // priority, slot
  CHECK(syn.substr(18) == "HB");

  CHECK(spdy::ping(be32(7)) == be32(0x80030006u) + be32(4) + be32(7));
}

TEST_CASE("spdy: frames are split out of bytes that arrive one at a time", "[spdy]") {
  const std::string bytes = control_frame(2, be32(1) + "xyz") + data_frame(5, "hello", spdy::kFlagFin) +
                            control_frame(3, be32(3) + be32(5)) + data_frame(7, "");
  spdy::FrameReader r;
  std::vector<spdy::Frame> got;
  for (char c : bytes) {
    r.feed(std::string_view(&c, 1));
    auto f = r.next();
    REQUIRE(f);
    if (*f) got.push_back(std::move(**f));
  }
  REQUIRE(got.size() == 4);
  CHECK(got[0].control);
  CHECK(got[0].type == 2);
  CHECK(got[0].stream_id == 1);
  CHECK_FALSE(got[1].control);
  CHECK(got[1].stream_id == 5);
  CHECK(got[1].flags == spdy::kFlagFin);
  CHECK(got[1].payload == "hello");
  CHECK(got[2].type == 3);
  CHECK(got[2].stream_id == 3);
  CHECK(got[3].stream_id == 7);
  CHECK(got[3].payload.empty());

  spdy::FrameReader other;
  other.feed(be32(0x80020001u) + be32(0));
  auto bad = other.next();
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("version 2") != std::string::npos);
}

TEST_CASE("spdy: header blocks are one zlib stream, each block readable the moment it arrives", "[spdy]") {
  spdy::HeaderEncoder enc;
  Inflater inf;
  const std::vector<std::pair<std::string, std::string>> error = {{"streamtype", "error"}};
  const std::vector<std::pair<std::string, std::string>> two = {{"streamtype", "stdin"},
                                                                {"x", std::string(70000, 'v')}};
  const std::string first = enc.encode(error);
  CHECK(first.substr(0, 2) == "\x78\x01");
  CHECK(inf.block(first) == pairs(error));
  const std::string second = enc.encode(two);  // over 64 KiB: more than one stored block
  CHECK(second.substr(0, 2) != "\x78\x01");
  CHECK(inf.block(second) == pairs(two));
  CHECK(inf.block(enc.encode(error)) == pairs(error));
}

TEST_CASE("exec: a bulk exec goes over SPDY: its streams, stdin with FIN, output and exit status", "[client][spdy]") {
  auto fake = std::make_shared<FakeTransport>();
  auto conn = fake->spdy(kPath);
  const std::string status =
      R"({"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})";
  conn->incoming = control_frame(2, be32(1)) + control_frame(2, be32(3)) + control_frame(6, be32(2)) +
                   data_frame(5, "out-1 ") + data_frame(7, "err") + data_frame(5, "out-2") +
                   data_frame(5, "", spdy::kFlagFin) + data_frame(7, "", spdy::kFlagFin) +
                   data_frame(1, status.substr(0, 20)) + data_frame(1, status.substr(20), spdy::kFlagFin);
  auto client = client_for(fake);
  ExecOptions o = bulk_cat();
  std::string out, err;
  auto session = client->exec("shop", "web-1", o, append_to(out), append_to(err));
  REQUIRE(session);
  CHECK((*session)->can_close_stdin());
  CHECK((*session)->protocol() == "v4.channel.k8s.io");
  REQUIRE((*session)->write_stdin("abc"));
  REQUIRE((*session)->close_stdin());
  auto r = (*session)->wait();
  REQUIRE(r);
  CHECK(r->exit_code == 3);
  CHECK(out == "out-1 out-2");
  CHECK(err == "err");
  fake->verify();

  REQUIRE(fake->requests.size() == 1);
  const auto& req = fake->requests[0];
  CHECK(req.method == "POST");
  CHECK(req.headers.get("X-Stream-Protocol-Version") == std::optional<std::string>("v4.channel.k8s.io"));
  CHECK(fake->upgrades == std::vector<std::string>{"SPDY/3.1"});

  // Written: SYN_STREAM error 1, stdin 3, stdout 5, stderr 7 (in that order, header blocks one
  // zlib stream), "abc" on 3, FIN on 3, the PING answered.
  auto sent = frames_of(conn->written);
  REQUIRE(sent.size() == 7);
  Inflater inf;
  const char* types[] = {"error", "stdin", "stdout", "stderr"};
  for (int i = 0; i < 4; ++i) {
    INFO("stream " << i);
    CHECK(sent[i].control);
    CHECK(sent[i].type == 1);
    CHECK(sent[i].stream_id == static_cast<uint32_t>(1 + 2 * i));
    CHECK(inf.block(sent[i].payload.substr(10)) == pairs({{"streamtype", types[i]}}));
  }
  CHECK_FALSE(sent[4].control);
  CHECK(sent[4].stream_id == 3);
  CHECK(sent[4].payload == "abc");
  CHECK(sent[5].stream_id == 3);
  CHECK(sent[5].flags == spdy::kFlagFin);
  CHECK(sent[5].payload.empty());
  CHECK(sent[6].control);
  CHECK(sent[6].type == 6);
  CHECK(sent[6].payload == be32(2));
}

TEST_CASE("exec: a server that closes a SPDY exec before its status is an error, after it is not", "[client][spdy]") {
  auto fake = std::make_shared<FakeTransport>();
  ExecOptions o = bulk_cat();
  auto client = client_for(fake);
  {
    auto conn = fake->spdy(kPath);
    conn->incoming = data_frame(5, "partial");
    auto session = client->exec("shop", "web-1", o, nullptr, nullptr);
    REQUIRE(session);
    auto r = (*session)->wait();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::Unavailable);
    CHECK(r.error().message.find("before the command's exit status") != std::string::npos);
  }
  {
    // The status whole, then the connection closed with stdout never finished: success.
    auto conn = fake->spdy(kPath);
    conn->incoming = data_frame(1, kSuccess, spdy::kFlagFin);
    auto session = client->exec("shop", "web-1", o, nullptr, nullptr);
    REQUIRE(session);
    auto r = (*session)->wait();
    REQUIRE(r);
    CHECK(r->exit_code == 0);
  }
  fake->verify();
}

TEST_CASE("exec: without SPDY a bulk exec uses the WebSocket, and the client does not ask again", "[client][spdy]") {
  auto fake = std::make_shared<FakeTransport>();
  auto client = client_for(fake);
  ExecOptions o = bulk_cat();
  for (int i = 0; i < 2; ++i) {
    auto ws = fake->websocket(kPath, "v5.channel.k8s.io");
    ws->incoming.push_back(binary(1, "from the websocket"));
    ws->incoming.push_back(binary(3, kSuccess));
    std::string out;
    auto session = client->exec("shop", "web-1", o, append_to(out), nullptr);
    REQUIRE(session);
    CHECK((*session)->protocol() == "v5.channel.k8s.io");
    auto r = (*session)->wait();
    REQUIRE(r);
    CHECK(out == "from the websocket");
  }
  CHECK(fake->upgrades == std::vector<std::string>{"SPDY/3.1"});
  fake->verify();

  // Not bulk, or with a terminal: never SPDY.
  auto other = std::make_shared<FakeTransport>();
  auto c2 = client_for(other);
  o.bulk = false;
  auto ws = other->websocket(kPath, "v5.channel.k8s.io");
  ws->incoming.push_back(binary(3, kSuccess));
  auto session = c2->exec("shop", "web-1", o, nullptr, nullptr);
  REQUIRE(session);
  REQUIRE((*session)->wait());
  CHECK(other->upgrades.empty());
  other->verify();
}

TEST_CASE("exec: a SPDY refusal about the credentials or the pod does not keep the client off SPDY", "[client][spdy]") {
  auto fake = std::make_shared<FakeTransport>();
  auto client = client_for(fake);
  ExecOptions o = bulk_cat();
  fake->spdy_refusal(util::Error(ErrorCode::NotFound, "pods \"web-1\" not found", "", 404));
  auto ws = fake->websocket(kPath, "v5.channel.k8s.io");
  ws->incoming.push_back(binary(3, kSuccess));
  auto first = client->exec("shop", "web-1", o, nullptr, nullptr);
  REQUIRE(first);
  REQUIRE((*first)->wait());
  // The next copy asks for SPDY again, and gets it.
  auto conn = fake->spdy(kPath);
  conn->incoming = data_frame(1, kSuccess, spdy::kFlagFin);
  auto second = client->exec("shop", "web-1", o, nullptr, nullptr);
  REQUIRE(second);
  CHECK((*second)->can_close_stdin());
  REQUIRE((*second)->wait());
  CHECK(fake->upgrades == std::vector<std::string>{"SPDY/3.1", "SPDY/3.1"});
  fake->verify();
}
