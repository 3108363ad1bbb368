// Decision-rule names (--rule, golden files) and rule lists (--rule a,b,...)
// on any text: a rule that parses prints back to itself.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "harness/goldens.h"
#include "runtime/decide.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto rule = parse_rule(text); rule && rule_problem(*rule).empty()) {
    fuzz::check(parse_rule(rule_name(*rule)) == *rule, "a rule's name does not read back", text);
  }
  try {
    for (const Rule& r : parse_rule_list(text)) {
      fuzz::check(rule_problem(r).empty(), "an invalid rule in an accepted list", text);
    }
  } catch (const std::invalid_argument& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
