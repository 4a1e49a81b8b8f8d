#include <catch2/catch.hpp>
#include <string>

#include "workbench/app/jvm.hpp"
#include "workbench/app/logs.hpp"

using namespace wb::workbench;

namespace {

// A log as pods/log with timestamps sends it: the app's lines around a dump it printed at 10:00:05.
const char* kLog =
    "2026-12-06T10:00:01.000000001Z serving version 1 on port 8080\n"
    "2026-12-06T10:00:04.500000000Z Full thread dump OpenJDK (an older dump)\n"
    "2026-12-06T10:00:04.500000001Z JNI global refs: 1, weak refs: 0\n"
    "2026-12-06T10:00:05.000000000Z request GET /\n"
    "2026-12-06T10:00:05.100000000Z Full thread dump OpenJDK 64-Bit Server VM (17.0.19 mixed mode, sharing):\n"
    "2026-12-06T10:00:05.100000001Z \n"
    "2026-12-06T10:00:05.100000002Z \"main\" #1 prio=5 os_prio=0 tid=0x1 nid=0x2 runnable\n"
    "2026-12-06T10:00:05.100000003Z    java.lang.Thread.State: RUNNABLE\n"
    "2026-12-06T10:00:05.100000004Z \tat com.example.Main.main(Main.java:10)\n"
    "2026-12-06T10:00:05.100000005Z \n"
    "2026-12-06T10:00:05.100000006Z JNI global refs: 12, weak refs: 0\n"
    "2026-12-06T10:00:05.100000007Z \n"
    "2026-12-06T10:00:05.100000008Z Heap\n"
    "2026-12-06T10:00:05.100000009Z  def new generation   total 4928K, used 1790K\n"
    "2026-12-06T10:00:05.100000010Z   eden space 4416K,  40% used\n"
    "2026-12-06T10:00:05.100000011Z  Metaspace       used 1333K, committed 1472K\n"
    "2026-12-06T10:00:05.100000012Z \n"
    "2026-12-06T10:00:06.000000000Z request GET /after\n";

const std::string kDump =
    "Full thread dump OpenJDK 64-Bit Server VM (17.0.19 mixed mode, sharing):\n"
    "\n"
    "\"main\" #1 prio=5 os_prio=0 tid=0x1 nid=0x2 runnable\n"
    "   java.lang.Thread.State: RUNNABLE\n"
    "\tat com.example.Main.main(Main.java:10)\n"
    "\n"
    "JNI global refs: 12, weak refs: 0\n"
    "\n"
    "Heap\n"
    " def new generation   total 4928K, used 1790K\n"
    "  eden space 4416K,  40% used\n"
    " Metaspace       used 1333K, committed 1472K";

int64_t at(const char* stamp) { return *parse_log_time(stamp); }

}  // namespace

TEST_CASE("scan_thread_dump takes the first dump after the signal, without the app's lines around it") {
  DumpScan s = scan_thread_dump(kLog, at("2026-12-06T10:00:05Z"));
  CHECK(s.started);
  CHECK(s.refs_seen);
  CHECK(s.closed);
  CHECK(s.text == kDump);
}

TEST_CASE("scan_thread_dump without the moment takes the first dump in the log") {
  DumpScan s = scan_thread_dump(kLog, 0);
  CHECK(s.closed);
  CHECK(s.text == "Full thread dump OpenJDK (an older dump)\nJNI global refs: 1, weak refs: 0");
}

TEST_CASE("scan_thread_dump tells a dump still being written from a whole one") {
  std::string log = kLog;
  SECTION("only the start of the threads") {
    DumpScan s = scan_thread_dump(log.substr(0, log.find("JNI global refs: 12")), at("2026-12-06T10:00:05Z"));
    CHECK(s.started);
    CHECK_FALSE(s.refs_seen);
    CHECK_FALSE(s.closed);
    CHECK(s.text.rfind("Full thread dump", 0) == 0);
    CHECK(s.text.find("com.example.Main.main") != std::string::npos);
  }
  SECTION("the threads and part of the heap summary, the last line unfinished") {
    DumpScan s = scan_thread_dump(log.substr(0, log.find("  eden space") + 5), at("2026-12-06T10:00:05Z"));
    CHECK(s.refs_seen);
    CHECK_FALSE(s.closed);
    CHECK(s.text.find(" def new generation") != std::string::npos);
  }
  SECTION("nothing yet after the signal") {
    DumpScan s = scan_thread_dump(log.substr(0, log.find("2026-12-06T10:00:05.1")), at("2026-12-06T10:00:05Z"));
    CHECK_FALSE(s.started);
    CHECK(s.text.empty());
  }
}
