// The golden-file reader (datasets/goldens/*.txt's format) on any bytes.
#include <cstdint>
#include <string_view>

#include "harness/goldens.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  try {
    const GoldenFile g =
        parse_goldens(std::string_view(reinterpret_cast<const char*>(data), size), "goldens.txt");
    fuzz::check(!g.model.empty() && !g.checksum.empty(), "a golden file without its keys");
    fuzz::check(rule_problem(g.rule).empty(), "a golden file with an invalid rule was accepted");
    fuzz::check(parse_rule(rule_name(g.rule)) == g.rule, "the rule's name does not read back");
    for (const GoldenStep& s : g.steps) {
      fuzz::check(s.logits_hash.size() == 16, "a hash that is not 16 characters");
      fuzz::check(g.find(s.prompt_id, s.step) != nullptr, "a step cannot be found");
    }
  } catch (const DataFileError& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
