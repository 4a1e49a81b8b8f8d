#include "docs/model.hpp"

#include <algorithm>
#include <cctype>

#include "util/strings.hpp"

namespace wb::cli::docs {

std::string OptionDoc::main_name() const {
  for (const auto& n : names)
    if (n.rfind("--", 0) == 0) return n;
  return names.empty() ? std::string() : names.front();
}

std::string OptionDoc::placeholder() const {
  static const char* defaults[] = {"TEXT", "INT", "UINT", "FLOAT", "BOOLEAN", "ENUM", "NUMBER", ""};
  bool plain = std::find(std::begin(defaults), std::end(defaults), value_name) != std::end(defaults);
  if (!plain || !positional) return value_name.empty() ? "VALUE" : value_name;
  std::string up = names.empty() ? "ARG" : names.front();
  for (auto& c : up) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return up;
}

std::string CommandDoc::path_string() const { return util::join(path, " "); }

namespace {

// CLI11 appends the descriptions of checks to the type name: "FORMAT:{table,wide,json}".
void split_type_name(const std::string& full, OptionDoc& doc) {
  auto brace = full.rfind(":{");
  if (brace == std::string::npos || full.back() != '}') {
    doc.value_name = full;
    return;
  }
  doc.value_name = full.substr(0, brace);
  for (auto& c : util::split(full.substr(brace + 2, full.size() - brace - 3), ','))
    if (!c.empty()) doc.choices.push_back(c);
}

OptionDoc describe_option(const CLI::Option& opt) {
  OptionDoc d;
  d.positional = opt.get_positional() && opt.get_snames().empty() && opt.get_lnames().empty();
  if (d.positional) {
    d.names.push_back(opt.get_name(true, false));
  } else {
    for (const auto& s : opt.get_snames()) d.names.push_back("-" + s);
    for (const auto& l : opt.get_lnames()) d.names.push_back("--" + l);
  }
  d.takes_value = d.positional || opt.get_items_expected_max() > 0;
  d.multi = d.takes_value && opt.get_items_expected_max() > 1;
  d.required = opt.get_required();
  if (d.takes_value) split_type_name(opt.get_type_name(), d);
  d.description = opt.get_description();
  d.default_value = opt.get_default_str();
  return d;
}

bool is_help(const CLI::App& app, const CLI::Option* opt) {
  return opt == app.get_help_ptr() || opt == app.get_help_all_ptr();
}

CommandDoc describe_at(CLI::App& app, std::vector<std::string> path, const std::vector<OptionDoc>& inherited) {
  CommandDoc doc;
  doc.path = std::move(path);
  doc.description = app.get_description();
  doc.aliases = app.get_aliases();
  doc.hidden = app.get_group().empty();
  doc.inherited = inherited;
  for (const CLI::Option* opt : app.get_options()) {
    if (is_help(app, opt)) continue;
    auto d = describe_option(*opt);
    (d.positional ? doc.positionals : doc.options).push_back(std::move(d));
  }
  // What a subcommand accepts besides its own options: with fallthrough, its parent's (and so on).
  std::vector<OptionDoc> for_children = inherited;
  for (const auto& o : doc.options) for_children.push_back(o);
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_group().empty() || sub->get_name().empty()) continue;
    auto child_path = doc.path;
    child_path.push_back(sub->get_name());
    doc.subcommands.push_back(
        describe_at(*sub, std::move(child_path), sub->get_fallthrough() ? for_children : std::vector<OptionDoc>{}));
  }
  return doc;
}

void collect_leaves(const CommandDoc& doc, std::vector<const CommandDoc*>& out) {
  if (doc.subcommands.empty()) {
    out.push_back(&doc);
    return;
  }
  for (const auto& sub : doc.subcommands) collect_leaves(sub, out);
}

}  // namespace

CommandDoc describe(CLI::App& app) { return describe_at(app, {}, {}); }

std::vector<const CommandDoc*> leaves(const CommandDoc& doc) {
  std::vector<const CommandDoc*> out;
  collect_leaves(doc, out);
  return out;
}

}  // namespace wb::cli::docs
