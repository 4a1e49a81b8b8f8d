#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "temp_dir.hpp"
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

TEST_CASE("heap_used_bytes sums the heap's spaces, not Metaspace") {
  const char* serial =
      " def new generation   total 19648K, used 1405K [0x00000000fc000000, 0x00000000fd550000, 0x00000000fd550000)\n"
      "  eden space 17472K,   8% used [0x00000000fc000000, 0x00000000fc15f798, 0x00000000fd110000)\n"
      "  from space 2176K,   0% used [0x00000000fd110000, 0x00000000fd110000, 0x00000000fd330000)\n"
      " tenured generation   total 43712K, used 300K [0x00000000fd550000, 0x0000000100000000)\n"
      "   the space 43712K,   0% used [0x00000000fd550000, 0x00000000fd550000, 0x00000000fd550200)\n"
      " Metaspace       used 137K, committed 384K, reserved 1114112K\n"
      "  class space    used 4K, committed 128K, reserved 1048576K\n";
  CHECK(heap_used_bytes(serial) == (1405 + 300) * 1024ULL);
  const char* g1 =
      " garbage-first heap   total 65536K, used 42449K [0x00000000fc000000, 0x0000000100000000)\n"
      "  region size 1024K, 2 young (2048K), 1 survivors (1024K)\n"
      " Metaspace       used 78K, committed 320K, reserved 1114112K\n"
      "  class space    used 3K, committed 128K, reserved 1048576K";  // no line end at the end
  CHECK(heap_used_bytes(g1) == 42449 * 1024ULL);
  // ZGC counts in M: nothing to go by, so no check.
  CHECK_FALSE(heap_used_bytes(" ZHeap           used 8M, capacity 32M, max capacity 64M\n"));
  CHECK_FALSE(heap_used_bytes(""));
}

TEST_CASE("df_available_bytes reads df -Pk of GNU and busybox") {
  CHECK(df_available_bytes("Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
                           "overlay           61202244 9470600  48593112      17% /tmp\n") == 48593112 * 1024ULL);
  CHECK(df_available_bytes("Filesystem           1024-blocks    Used Available Capacity Mounted on\n"
                           "tmpfs                     2048         0      2048   0% /tmp\n") == 2048 * 1024ULL);
  CHECK_FALSE(df_available_bytes("df: /tmp: No such file or directory\n"));
  CHECK_FALSE(df_available_bytes("Filesystem 1024-blocks Used Available Capacity Mounted on\nnone - - - - /tmp\n"));
}

TEST_CASE("parse_attach_reply splits the result code from the output") {
  auto ok = parse_attach_reply("0\nDumping heap to /tmp/x.hprof ...\nHeap dump file created\n");
  REQUIRE(ok);
  CHECK(ok->code == 0);
  CHECK(ok->output == "Dumping heap to /tmp/x.hprof ...\nHeap dump file created\n");
  auto refused = parse_attach_reply("-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n");
  REQUIRE(refused);
  CHECK(refused->code == -1);
  CHECK(refused->output.rfind("java.lang.IllegalArgumentException", 0) == 0);
  CHECK_FALSE(parse_attach_reply(""));
  CHECK_FALSE(parse_attach_reply("0"));
  CHECK_FALSE(parse_attach_reply("\n0\n"));
  CHECK_FALSE(parse_attach_reply("Exception in thread \"main\"\n"));
}

namespace {

// What `SHELL -n` (parse only) says of a script: 0 when it reads as shell.
int shell_parse(const std::string& shell, const std::string& script) {
  wb::test::TempDir dir;
  const auto path = dir.path() / "script.sh";
  std::ofstream(path) << script;
  return std::system((shell + " -n '" + path.string() + "' 2>/dev/null").c_str());
}

}  // namespace

TEST_CASE("the scripts run in containers read as POSIX shell (dash, busybox)") {
  for (const std::string shell : {"dash", "busybox sh"}) {
    if (std::system(("command -v " + shell.substr(0, shell.find(' ')) + " >/dev/null").c_str()) != 0) continue;
    INFO(shell);
    CHECK(shell_parse(shell, jvm_command_script()) == 0);
    CHECK(shell_parse(shell, signal_jvm_script()) == 0);
    CHECK(shell_parse(shell, "case x in") != 0);  // the check can fail
  }
  // What the script promises: the platform's JVM options stay the app's, attach is tried before the signal.
  const std::string s = jvm_command_script();
  CHECK(s.find("unset JAVA_TOOL_OPTIONS") != std::string::npos);
  CHECK(s.find("-XX:+DisableAttachMechanism*) exit 6") != std::string::npos);
  CHECK(s.find("/tmp/.attach_pid$pid") < s.find("kill -QUIT"));
}

TEST_CASE("the embedded attach client is the committed class, for Java 16") {
  std::ifstream in(std::string(WB_SOURCE_DIR) + "/lib/workbench/app/jvm_attach/WbAttach.class", std::ios::binary);
  const std::string committed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(committed.size() > 8);
  CHECK(attach_client_class() == committed);
  CHECK(committed.substr(0, 4) == "\xCA\xFE\xBA\xBE");
  CHECK(static_cast<unsigned char>(committed[7]) == 60);  // class file major version 60: Java 16
}
