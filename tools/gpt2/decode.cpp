// gpt2 decode: token ids -> the exact bytes of their text.
#include <string>
#include <vector>

#include "runtime/token_list.h"
#include "tools/gpt2/commands.h"
#include "tools/gpt2/common.h"

namespace gpt2::tool {
namespace {

int run_decode(const Options& o) {
  std::vector<int> ids;
  for (const std::string& t : o.decode_ids) {
    const int id = parse_token_id(t);
    if (id < 0 || id >= kTokenizerVocabSize) {
      throw UsageError("Token " + t + " is out of range [0, " +
                       std::to_string(kTokenizerVocabSize) + ").");
    }
    ids.push_back(id);
  }
  write_out(Tokenizer::load_default().decode(ids));
  return 0;
}

}  // namespace

Command register_decode(CLI::App& app, Options& o) {
  CLI::App* decode = app.add_subcommand("decode", "Write the exact bytes of token ids");
  decode->add_option("ids", o.decode_ids, "Token ids")->required();
  return {[decode] { return decode->parsed(); }, [&o] { return run_decode(o); }};
}

}  // namespace gpt2::tool
