// gpt2-bench's commands, one file each beside this one (as git's builtin/):
// each registers its options on the command line and returns its action.
// bench_main.cpp registers them all; a new command is a new file, one line
// here, one in main() and one in tools/CMakeLists.txt.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace gpt2::bench {

// A command, once registered: the (sub)command its options belong to, and
// what it does once the command line has chosen it. `run` checks the options
// before any work and throws std::exception at a mistake (main() prints the
// message on stderr and exits 1); it returns the exit status otherwise.
struct Command {
  CLI::App* app = nullptr;
  std::function<int(const std::string& command_line)> run;
};

// The speedup sweep, gpt2-bench's default: its options are the top-level ones.
Command register_sweep(CLI::App& app);      // sweep.cpp
Command register_verify(CLI::App& app);     // verify.cpp
Command register_agreement(CLI::App& app);  // agreement.cpp
Command register_backends(CLI::App& app);   // backends.cpp
Command register_serve(CLI::App& app);      // serve.cpp
Command register_render(CLI::App& app);     // render.cpp

}  // namespace gpt2::bench
