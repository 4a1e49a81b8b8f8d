#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "workbench/app/logs.hpp"

using namespace wb::workbench;
using nlohmann::json;

TEST_CASE("LineSplitter emits whole lines only, joining pieces across chunks") {
  LineSplitter s;
  std::vector<std::string> lines;
  auto emit = [&](std::string_view l) { lines.emplace_back(l); };
  s.feed("first\nsec", emit);
  CHECK(lines == std::vector<std::string>{"first"});
  s.feed("ond half", emit);
  CHECK(lines.size() == 1);
  s.feed("\r\nthird\n\nfou", emit);
  CHECK(lines == std::vector<std::string>{"first", "second half", "third", ""});
  CHECK(s.take_rest() == "fou");
  CHECK(s.take_rest().empty());
}

TEST_CASE("LineSplitter passes a line longer than its cap on in pieces, holding at most the cap") {
  constexpr size_t cap = LineSplitter::kMaxLine;
  LineSplitter s;
  std::vector<std::string> lines;
  std::vector<bool> continued;
  auto emit = [&](std::string_view l) {
    lines.emplace_back(l);
    continued.push_back(s.continues_cut());
  };
  // A peer that never sends a newline: 2.5 caps in 64 KiB chunks, then the line's end.
  std::string sent;
  for (size_t i = 0; sent.size() < cap * 5 / 2; ++i) {
    std::string chunk(64 << 10, static_cast<char>('a' + i % 26));
    sent += chunk;
    s.feed(chunk, emit);
  }
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].size() == cap);
  CHECK(lines[1].size() == cap);
  CHECK(continued == std::vector<bool>{false, true});
  s.feed("\r\nnext\n", emit);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] + lines[1] + lines[2] == sent);  // nothing lost or repeated; the "\r\n" ends it
  CHECK(continued == std::vector<bool>{false, true, true, false});
  CHECK(lines[3] == "next");

  // A line of exactly the cap is one line, whether its end comes with it or after.
  lines.clear();
  s.feed(std::string(cap, 'x') + "\n", emit);
  s.feed(std::string(cap, 'y'), emit);
  s.feed("\r\n", emit);
  CHECK(lines == std::vector<std::string>{std::string(cap, 'x'), std::string(cap, 'y')});
  // One byte over: a piece of the cap, then that byte; a '\r' in the middle of a cut is kept.
  lines.clear();
  s.feed(std::string(cap - 1, 'z') + "\rq\n", emit);
  CHECK(lines == std::vector<std::string>{std::string(cap - 1, 'z') + "\r", "q"});
  CHECK(s.take_rest().empty());
  CHECK_FALSE(s.continues_cut());
}

TEST_CASE("log timestamps parse to nanoseconds and split off the message") {
  auto t = parse_log_time("2024-05-01T10:00:00.123456789Z");
  REQUIRE(t);
  CHECK(*t % 1000000000 == 123456789);
  auto whole = parse_log_time("2024-05-01T10:00:00Z");
  REQUIRE(whole);
  CHECK(*t - *whole == 123456789);
  CHECK(*parse_log_time("2024-05-01T10:00:00.5Z") - *whole == 500000000);
  CHECK_FALSE(parse_log_time("yesterday"));
  CHECK_FALSE(parse_log_time("2024-05-01T10:00:00.Z"));

  auto [stamp, msg] = split_log_timestamp("2024-05-01T10:00:00.000000001Z hello world");
  CHECK(stamp == "2024-05-01T10:00:00.000000001Z");
  CHECK(msg == "hello world");
  auto [s2, m2] = split_log_timestamp("not a stamp at all");
  CHECK(s2.empty());
  CHECK(m2 == "not a stamp at all");
  auto [s3, m3] = split_log_timestamp("2024-05-01T10:00:00.000000001Z");
  CHECK(s3 == "2024-05-01T10:00:00.000000001Z");
  CHECK(m3.empty());
}

TEST_CASE("ResumePoint drops what a reconnect repeats and keeps what is new") {
  ResumePoint rp;
  CHECK(rp.empty());
  const int64_t base = 1714557600LL * 1000000000LL;  // 2024-05-01T10:00:00Z
  CHECK(rp.accept(base + 100));
  CHECK(rp.accept(base + 200));
  CHECK(rp.accept(base + 200));  // two lines with the very same stamp: both new
  CHECK(rp.since_time() == "2024-05-01T10:00:00Z");
  // The reconnect (sinceTime rounded down to the second) sends everything again, and more.
  rp.begin_replay();
  CHECK_FALSE(rp.accept(base + 100));
  CHECK_FALSE(rp.accept(base + 200));
  CHECK_FALSE(rp.accept(base + 200));
  CHECK(rp.accept(base + 200));  // a third line at that stamp was not seen before
  CHECK(rp.accept(base + 300));
  // A second break right after.
  rp.begin_replay();
  CHECK_FALSE(rp.accept(base + 300));
  CHECK(rp.accept(base + 1000000000LL));
  CHECK(rp.since_time() == "2024-05-01T10:00:01Z");
}

TEST_CASE("replicas are matched by full name, short name or suffix; the app's container is picked") {
  json pod = {{"metadata", {{"name", "orders-7d9f5c6b8-x2x9z"}}},
              {"spec", {{"containers", json::array({{{"name", "sidecar"}}, {{"name", "orders"}}})}}}};
  CHECK(replica_matches(pod, "orders", ""));
  CHECK(replica_matches(pod, "orders", "orders-7d9f5c6b8-x2x9z"));
  CHECK(replica_matches(pod, "orders", "orders-x2x9z"));
  CHECK(replica_matches(pod, "orders", "x2x9z"));
  CHECK_FALSE(replica_matches(pod, "orders", "orders-aaaaa"));
  CHECK(pick_container(pod, "orders", "") == "orders");
  CHECK(pick_container(pod, "orders", "sidecar") == "sidecar");
  json other = {{"metadata", {{"name", "x-1"}}}, {"spec", {{"containers", json::array({{{"name", "main"}}})}}}};
  CHECK(pick_container(other, "orders", "") == "main");
}
