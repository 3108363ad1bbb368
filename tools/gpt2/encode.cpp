// gpt2 encode: stdin's text -> its token ids on one line.
#include <cstdio>
#include <string>
#include <vector>

#include "tools/gpt2/commands.h"
#include "tools/gpt2/common.h"

namespace gpt2::tool {
namespace {

int run_encode(const Options& o) {
  const Tokenizer tok = Tokenizer::load_default();
  const std::string text = read_all(stdin, kMaxEncodeBytes);
  if (text.size() > kMaxEncodeBytes) {
    throw UsageError("gpt2 encode reads at most " + std::to_string(kMaxEncodeBytes) +
                     " bytes (16 MiB); stdin holds more: split the text.");
  }
  const std::vector<int> ids = tok.encode(text, special_tokens(o));
  std::string line;
  for (std::size_t i = 0; i < ids.size(); i++) line += (i ? " " : "") + std::to_string(ids[i]);
  write_out(line + "\n");
  return 0;
}

}  // namespace

Command register_encode(CLI::App& app, Options& o) {
  CLI::App* encode = app.add_subcommand("encode", "Print the token ids of stdin's text");
  encode->add_flag("--allow-special", o.allow_special,
                   "Read the text <|endoftext|> as the special token 50256");
  return {[encode] { return encode->parsed(); }, [&o] { return run_encode(o); }};
}

}  // namespace gpt2::tool
