// The prompt-set reader (datasets/prompts.txt's format) on any bytes.
#include <cstdint>
#include <set>
#include <string_view>

#include "harness/goldens.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  try {
    const auto prompts =
        parse_prompts(std::string_view(reinterpret_cast<const char*>(data), size), "prompts.txt");
    fuzz::check(!prompts.empty(), "an empty prompt set was accepted");
    std::set<std::string> ids;
    for (const Prompt& p : prompts) {
      fuzz::check(!p.tokens.empty() && int(p.tokens.size()) < p.n, "a prompt does not fit its n");
      for (int t : p.tokens) fuzz::check(t >= 0, "a negative token was accepted");
      fuzz::check(ids.insert(p.id).second, "a duplicate prompt id was accepted");
    }
  } catch (const DataFileError& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
