// Token ids as written on a command line (gpt2 TOKEN..., gpt2 decode, the
// sweeps' --tokens) on any text; what parses prints back to the same ids.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "runtime/token_list.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto ids = parse_token_ids(text);
    std::string again;
    for (int id : ids) again += std::to_string(id) + ",";
    fuzz::check(parse_token_ids(again) == ids, "ids do not read back");
  } catch (const std::invalid_argument& e) {
    fuzz::check_one_line(e);
  }
  try {
    const int id = parse_token_id(text);
    fuzz::check(parse_token_id(std::to_string(id)) == id, "an id does not read back");
  } catch (const std::invalid_argument& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
