// Precision names (--precision) on any text: a name that parses prints back.
#include <cstdint>
#include <string_view>

#include "backends/registry.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto p = parse_precision(text)) {
    fuzz::check(parse_precision(precision_name(*p)) == p, "a precision's name does not read back");
    fuzz::check(text.size() <= 16, "a long precision name was accepted", text);
  }
  return 0;
}
