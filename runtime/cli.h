// The command-line tools' one way of reading their arguments with CLI11
// (header only: the tools link CLI11).
#pragma once

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

namespace gpt2 {

// Parses argv into `app`. nullopt: go on. Otherwise the exit status to return
// at once: 0 after --help (printed), 1 after a mistake, which is one line on
// stderr (CLI11's own message, then "(see --help).") and nothing on stdout.
inline std::optional<int> parse_arguments(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << e.what() << " (see --help).\n";
    return 1;
  }
  return std::nullopt;
}

}  // namespace gpt2
