#include "harness/stats.h"

#include <algorithm>
#include <cmath>

namespace gpt2 {

Stats summarize_samples(std::vector<double> s) {
  Stats st;
  st.count = int(s.size());
  if (s.empty()) return st;
  std::sort(s.begin(), s.end());
  const std::size_t n = s.size();
  st.median = n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  st.min = s.front();
  st.max = s.back();
  double sum = 0;
  for (double x : s) sum += x;
  st.mean = sum / double(n);
  double var = 0;
  for (double x : s) var += (x - st.mean) * (x - st.mean);
  st.stddev = n > 1 ? std::sqrt(var / double(n - 1)) : 0.0;
  return st;
}

}  // namespace gpt2
