#include <catch2/catch.hpp>

#include "util/yaml.hpp"

using nlohmann::json;
using wb::util::parse_yaml;
using wb::util::to_yaml;

TEST_CASE("to_yaml quotes what a YAML 1.1 reader would take for another type", "[yaml]") {
  const json o = {{"plain", "orders"}, {"bool", "yes"},  {"on", "On"},           {"num", "1.0"}, {"octal", "0755"},
                  {"hex", "0x1f"},     {"sexa", "1:30"}, {"date", "2024-01-02"}, {"null", "~"},  {"empty", ""},
                  {"real", 3},         {"t", true},      {"nothing", nullptr}};
  const std::string text = to_yaml(o);
  CHECK(text.find("plain: orders\n") != std::string::npos);
  for (const char* quoted :
       {"\"yes\"", "\"On\"", "\"1.0\"", "\"0755\"", "\"0x1f\"", "\"1:30\"", "\"2024-01-02\"", "\"~\"", "\"\""})
    CHECK(text.find(quoted) != std::string::npos);
  CHECK(text.find("real: 3\n") != std::string::npos);
  CHECK(text.find("t: true\n") != std::string::npos);
  // Every value reads back as what it was.
  auto back = parse_yaml(text, "o.yaml", "");
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  CHECK(back->at(0) == o);
}

TEST_CASE("to_yaml writes multi-line text as a literal block only when the block keeps it exactly", "[yaml]") {
  CHECK(to_yaml(json{{"a", "one\ntwo\n"}}) == "a: |\n  one\n  two\n");
  // A leading space or no final newline: double-quoted, still exact.
  for (const std::string s : {" one\ntwo\n", "one\ntwo", "one\n\n"}) {
    auto back = parse_yaml(to_yaml(json{{"a", s}}), "a.yaml", "");
    REQUIRE(back);
    CHECK(back->at(0)["a"] == s);
  }
  CHECK(to_yaml(json::object()) == "{}\n");
  CHECK(to_yaml(json{{"l", json::array()}}) == "l: []\n");
}

TEST_CASE("yaml_scalar and yaml_quoted", "[yaml]") {
  CHECK(wb::util::yaml_scalar("registry.local/shop/orders:1.2") == "registry.local/shop/orders:1.2");
  CHECK(wb::util::yaml_scalar("1.2") == "\"1.2\"");
  CHECK(wb::util::yaml_quoted("a \"b\"") == "\"a \\\"b\\\"\"");
}

TEST_CASE("parse_yaml names the file, line and column of what does not parse", "[yaml]") {
  auto bad = parse_yaml("a: [1,\n", "bad.yaml", "fix it");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == wb::util::ErrorCode::Usage);
  CHECK(bad.error().message.rfind("bad.yaml:", 0) == 0);
  CHECK(bad.error().hint == "fix it");
  auto docs = parse_yaml("a: 1\n---\n---\nb: '2'\n", "two.yaml", "");
  REQUIRE(docs);
  CHECK(*docs == std::vector<json>{json{{"a", 1}}, json{{"b", "2"}}});
}

TEST_CASE("parse_yaml refuses text yaml-cpp would read for ever", "[yaml]") {
  // Found by fuzzing: "," made yaml-cpp 0.7's LoadAll start the same document again and again.
  for (const std::string text : {",", "a: 1\n---\n,"}) {
    auto r = parse_yaml(text, "x.yaml", "fix it");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == wb::util::ErrorCode::Usage);
    CHECK(r.error().message.rfind("x.yaml:", 0) == 0);
  }
}

TEST_CASE("to_yaml double-quotes text with control characters, so it reads back the same", "[yaml]") {
  // Found by fuzzing: "\r\r\r\r" was written plain and read back as something else.
  for (const std::string s : {"\r\r\r\r", "a\tb\t", "x\x01y", "one\r\ntwo\r\n", "nel\xC2\x85ls\xE2\x80\xA8\u00e9"}) {
    CAPTURE(s);
    auto back = parse_yaml(to_yaml(nlohmann::json{{"v", s}}), "v.yaml", "");
    REQUIRE(back);
    CHECK(back->at(0)["v"] == s);
  }
}

TEST_CASE("to_yaml quotes text that starts like a document marker", "[yaml]") {
  // Found by fuzzing: the document " ..." is the text "...", written plain at the start of a line
  // it read back as the end of the document (null).
  for (const std::string s : {"...", "---", "... more", "--- x", "...."}) {
    CAPTURE(s);
    for (const nlohmann::json& doc : {nlohmann::json(s), nlohmann::json{{"v", s}}, nlohmann::json::array({s})}) {
      auto back = parse_yaml(to_yaml(doc), "v.yaml", "");
      REQUIRE(back);
      REQUIRE(back->size() == 1);
      CHECK(back->at(0) == doc);
    }
  }
}

TEST_CASE("to_yaml writes a key longer than a reader takes inline as an explicit key", "[yaml]") {
  // Found by fuzzing (CI, seed 20261206): a key that escapes to over 1024 characters was written
  // "key: value", and a YAML reader refuses an implicit key that long ("illegal map value").
  const std::string plain(2000, 'k');
  const std::string controls = "a" + std::string(300, '\x04') + "b";  // \x04 escapes to 4 characters
  const std::string just_under(250, 'u');
  for (const std::string& key : {plain, controls, just_under}) {
    CAPTURE(key.size());
    const nlohmann::json doc{{key, nullptr}, {"short", {{key, "v"}}}};
    const std::string text = to_yaml(doc);
    auto back = parse_yaml(text, "v.yaml", "");
    REQUIRE(back);
    REQUIRE(back->size() == 1);
    CHECK(back->at(0) == doc);
    // Short keys stay written the usual way (beside a key of over 1024 characters yaml-cpp writes
    // every key of that map explicitly, which reads back the same).
    if (key.size() < 1000) CHECK(("\n" + text).find("\nshort:\n") != std::string::npos);
  }
}
