// gpt2's modes, one file each beside this one (as git's builtin/): each
// registers the options only it has and returns its action. gpt2_main.cpp
// registers them all, in --help's order; a new mode is a new file, one line
// here, one in main() and one in tools/CMakeLists.txt.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "tools/gpt2/common.h"

namespace gpt2::tool {

// A mode, once registered: whether the parsed command line names it, and what
// it does then. `run` checks the options before any work and throws
// std::exception at a mistake (main() prints the message on stderr and exits
// 1); it returns the exit status otherwise.
struct Command {
  std::function<bool()> chosen;
  std::function<int()> run;
};

// gpt2 [options] TOKEN... or --prompt TEXT: one completion, the default.
Command register_complete(CLI::App& app, Options& o);  // complete.cpp
// --prompts FILE or --prompt-file FILE: every line, batched.
Command register_batch(CLI::App& app, Options& o);  // batch.cpp
// --beams K: beam search.
Command register_beams(CLI::App& app, Options& o);  // beams.cpp
// gpt2 encode, gpt2 decode: the tokenizer alone.
Command register_encode(CLI::App& app, Options& o);  // encode.cpp
Command register_decode(CLI::App& app, Options& o);  // decode.cpp

}  // namespace gpt2::tool
