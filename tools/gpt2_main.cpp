// gpt2: GPT-2 completion with any backend, a drop-in for the OS lab's `gpt`.
//
//   gpt2 [options] TOKEN...          the lab's: prints each new token id on its
//                                    own line until the sequence holds n tokens
//   gpt2 [options] --prompt TEXT     text in, the continuation out as it comes
//   gpt2 encode                      stdin's text -> its token ids
//   gpt2 decode ID...                ids -> the text's exact bytes
// Everything but the output goes to stderr.
//
// main() only registers the modes, each in its own file under tools/gpt2/
// (commands.h lists them), reads the command line and runs the one it names.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <optional>

#include "backends/registry.h"
#include "runtime/cli.h"
#include "tools/gpt2/commands.h"
#include "tools/gpt2/common.h"

int main(int argc, char** argv) {
  using namespace gpt2::tool;
  // Under mpirun (cuda-tp across processes) ranks past 0 serve rank 0's backends.
  if (const std::optional<int> worker = gpt2::enter_launcher(argc, argv)) return *worker;
  CLI::App app{
      "GPT-2 completion with any backend.\n\n"
      "  gpt2 [options] TOKEN...        complete token ids: each new id on its own line until the\n"
      "                                 sequence holds n tokens (the OS lab's `gpt`)\n"
      "  gpt2 [options] --prompt TEXT   complete text (TEXT '-' reads stdin); the continuation is\n"
      "                                 printed as it is generated\n"
      "  gpt2 encode                    print the token ids of stdin's text\n"
      "  gpt2 decode ID...              write the exact bytes of token ids\n\n"
      "Example: gpt2 31373 612 338 635 281     gpt2 --prompt \"Ladies and\" -n 40",
      "gpt2"};
  // In --help's order: the prompt, the prompts files, the shared options, beam
  // search, then the subcommands.
  Options o;
  const Command complete = register_complete(app, o);
  const Command batch = register_batch(app, o);
  add_shared_options(app, o);
  const Command beams = register_beams(app, o);
  const Command encode = register_encode(app, o);
  const Command decode = register_decode(app, o);
  if (const std::optional<int> status = gpt2::parse_arguments(app, argc, argv)) return *status;
  try {
    // The first mode the command line names; a completion when it names none.
    for (const Command* c : {&encode, &decode, &beams, &batch}) {
      if (c->chosen()) return c->run();
    }
    return complete.run();
  } catch (const std::exception& e) {  // UsageError included: its message as it is
    std::cerr << e.what() << "\n";
  }
  return 1;
}
