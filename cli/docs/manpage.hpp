// Man pages generated from the command definitions merged with written prose.
//
// Each page has a source man/src/<page>.1.in: roff prose with directive lines starting with '@'
// where generated parts go (@page, @TH, @SYNOPSIS, @COMMANDS, @NOUNS, @GLOBAL_OPTIONS,
// @EXIT_STATUS, @include, @verb ... @end). man/README.md describes the format.
#pragma once

#include <string>
#include <vector>

#include "commands/commands.hpp"
#include "docs/model.hpp"
#include "util/result.hpp"

namespace wb::cli::docs {

// Escapes plain text (a CLI description) for roff: backslashes, option dashes, `code` spans in
// bold, non-ASCII characters as \[uXXXX].
std::string roff_text(const std::string& text);

// Renders one page from its source text. `page` is its name ("wb-app"), `source_dir` the
// directory @include names files in. Errors name the source line.
util::Result<std::string> render_man_page(const CommandDoc& root, const std::vector<commands::ExitCodeDoc>& exits,
                                          const std::string& page, const std::string& source,
                                          const std::string& source_dir);

// Renders every <page>.1.in in `source_dir` to `out_dir`/<page>.1 and returns the files written.
// Fails (Usage) when a command of wb has no page, or two pages claim one, or a page lacks one of
// the sections every page must have.
util::Result<std::vector<std::string>> render_man_pages(const CommandDoc& root,
                                                        const std::vector<commands::ExitCodeDoc>& exits,
                                                        const std::string& source_dir, const std::string& out_dir);

}  // namespace wb::cli::docs
