// Thread lists ("4", "1..4", "1,2,4,8", "1..16:2") on any text.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "runtime/lists.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  try {
    const auto list =
        parse_thread_list(std::string_view(reinterpret_cast<const char*>(data), size));
    fuzz::check(!list.empty(), "an empty thread list was accepted");
    for (std::size_t i = 0; i < list.size(); ++i) {
      fuzz::check(list[i] >= 1 && list[i] <= kMaxThreads, "a thread count out of range");
      fuzz::check(i == 0 || list[i - 1] < list[i], "a thread list not ascending");
    }
  } catch (const std::invalid_argument& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
