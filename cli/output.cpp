#include "output.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ostream>

#include "util/numbers.hpp"
#include "util/strings.hpp"
#include "util/yaml.hpp"

namespace wb::cli {

namespace {

// Display width of UTF-8 text: counts code points, not bytes.
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

std::string to_yaml(const json& value) { return util::to_yaml(value); }

json number_or_null(const std::string& text) {
  auto n = util::parse_int<int64_t>(text, "");
  return n ? json(*n) : json(nullptr);
}

void print_json(Context& ctx, const json& value) { ctx.out() << value.dump(2) << '\n'; }
void print_yaml(Context& ctx, const json& value) { ctx.out() << to_yaml(value); }

void print_table(Context& ctx, const Table& table) {
  const bool wide = ctx.global.format() == OutputFormat::Wide;
  std::vector<size_t> cols;
  for (size_t i = 0; i < table.headers.size(); ++i) {
    bool wide_only = std::find(table.wide_columns.begin(), table.wide_columns.end(), i) != table.wide_columns.end();
    if (!wide_only || wide) cols.push_back(i);
  }
  auto cell = [](const std::vector<std::string>& row, size_t i) -> std::string { return i < row.size() ? row[i] : ""; };
  if (!ctx.io.stdout_tty) {
    for (const auto& row : table.rows) {
      for (size_t c = 0; c < cols.size(); ++c) ctx.out() << (c ? "\t" : "") << cell(row, cols[c]);
      ctx.out() << '\n';
    }
    return;
  }
  std::vector<size_t> width(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    width[c] = display_width(table.headers[cols[c]]);
    for (const auto& row : table.rows) width[c] = std::max(width[c], display_width(cell(row, cols[c])));
  }
  auto print_row = [&](const std::vector<std::string>& row, bool header) {
    std::string line;
    for (size_t c = 0; c < cols.size(); ++c) {
      std::string text = header ? table.headers[cols[c]] : cell(row, cols[c]);
      if (header)
        std::transform(text.begin(), text.end(), text.begin(), [](unsigned char ch) { return std::toupper(ch); });
      line += text;
      if (c + 1 < cols.size()) line += std::string(width[c] - display_width(text) + 3, ' ');
    }
    ctx.out() << line << '\n';
  };
  print_row({}, true);
  for (const auto& row : table.rows) print_row(row, false);
}

void print_result(Context& ctx, const json& data, const std::function<Table()>& table,
                  const std::vector<std::string>& names) {
  switch (ctx.global.format()) {
    case OutputFormat::Json:
      print_json(ctx, data);
      break;
    case OutputFormat::Yaml:
      print_yaml(ctx, data);
      break;
    case OutputFormat::Name:
      for (const auto& n : names) ctx.out() << n << '\n';
      break;
    default:
      print_table(ctx, table());
      break;
  }
}

std::string paint(bool enabled, const std::string& color, const std::string& text) {
  if (!enabled) return text;
  const char* code = "0";
  if (color == "red")
    code = "31";
  else if (color == "green")
    code = "32";
  else if (color == "yellow")
    code = "33";
  else if (color == "blue")
    code = "34";
  else if (color == "bold")
    code = "1";
  else if (color == "dim")
    code = "2";
  return std::string("\033[") + code + "m" + text + "\033[0m";
}

LogSection::LogSection(Context& ctx, const std::string& name, const std::string& title)
    : ctx_(ctx), name_(name), active_(ctx.in_gitlab_ci()) {
  if (!active_) return;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(ctx.now().time_since_epoch()).count();
  ctx_.err() << "\033[0Ksection_start:" << secs << ":" << name_ << "[collapsed=true]\r\033[0K" << title << '\n';
}

LogSection::~LogSection() {
  if (!active_) return;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(ctx_.now().time_since_epoch()).count();
  ctx_.err() << "\033[0Ksection_end:" << secs << ":" << name_ << "\r\033[0K" << '\n';
}

}  // namespace wb::cli
