// Rendering results: tables (aligned with headers on a TTY, tab-separated in a pipe), JSON, YAML
// and names, chosen by -o. Commands build data; this module decides how it looks.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "context.hpp"

namespace wb::cli {

using json = nlohmann::json;

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  // Columns shown only with -o wide (indexes into headers).
  std::vector<size_t> wide_columns;
};

// Prints a table to stdout: on a TTY aligned with an upper-case header; in a pipe tab-separated
// without header or color.
void print_table(Context& ctx, const Table& table);
// JSON with two-space indentation and a trailing newline.
void print_json(Context& ctx, const json& value);
// YAML (block style; strings that would read as other types are quoted).
void print_yaml(Context& ctx, const json& value);
std::string to_yaml(const json& value);
// A number in machine output: the integer `text` holds (a revision, a version), or null.
json number_or_null(const std::string& text);

// Prints `data` in the chosen -o format: json/yaml print it whole, name prints `names` one a line,
// table/wide print `table()`.
void print_result(Context& ctx, const json& data, const std::function<Table()>& table,
                  const std::vector<std::string>& names = {});

// Wraps text in an ANSI color when `enabled` ("green", "red", "yellow", "bold", "dim").
std::string paint(bool enabled, const std::string& color, const std::string& text);

// GitLab CI collapsible sections (https://docs.gitlab.com/ee/ci/jobs/#custom-collapsible-sections):
// prints the start marker on construction and the end marker on destruction when ctx.in_gitlab_ci().
class LogSection {
 public:
  LogSection(Context& ctx, const std::string& name, const std::string& title);
  ~LogSection();
  LogSection(const LogSection&) = delete;
  LogSection& operator=(const LogSection&) = delete;

 private:
  Context& ctx_;
  std::string name_;
  bool active_;
};

}  // namespace wb::cli
