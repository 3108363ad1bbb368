// Thread-count lists for sweeps: "4", "1..4", "1,2,4,8", "1..16:2", or a
// comma-separated mix ("1,2..8:2,16").
#pragma once

#include <string_view>
#include <vector>

namespace gpt2 {

inline constexpr int kMaxThreads = 1024;  // a sane cap: more is a typo

// Ascending, without duplicates. Throws std::invalid_argument with a one-line
// message for an empty item, a non-number, 0 or less, a range that runs
// backwards (4..1), a step of 0 or less, or a count above kMaxThreads.
std::vector<int> parse_thread_list(std::string_view text);

}  // namespace gpt2
