// The one list grammar (runtime/lists.h) on any text: thread lists ("4",
// "1..4", "1,2,4,8", "1..16:2") and lists of names ("float32,int8w").
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "runtime/lists.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto list = parse_thread_list(text);
    fuzz::check(!list.empty(), "an empty thread list was accepted");
    for (std::size_t i = 0; i < list.size(); ++i) {
      fuzz::check(list[i] >= 1 && list[i] <= kMaxThreads, "a thread count out of range");
      fuzz::check(i == 0 || list[i - 1] < list[i], "a thread list not ascending");
    }
  } catch (const std::invalid_argument& e) {
    fuzz::check_one_line(e);
  }
  try {
    const auto items = parse_list(text, "name");
    fuzz::check(!items.empty(), "an empty list was accepted");
    std::size_t chars = items.size() - 1;  // the commas between them
    for (std::size_t i = 0; i < items.size(); ++i) {
      fuzz::check(!items[i].empty(), "an empty item was accepted");
      fuzz::check(items[i].find(',') == std::string::npos, "an item holds a comma");
      fuzz::check(std::count(items.begin(), items.begin() + i, items[i]) == 0,
                  "an item was kept twice");
      chars += items[i].size();
    }
    fuzz::check(chars <= text.size(), "the items hold more than the text");
  } catch (const std::invalid_argument& e) {
    fuzz::check_one_line(e);
  }
  return 0;
}
