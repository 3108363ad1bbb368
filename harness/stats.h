// Summary statistics of timing samples.
#pragma once

#include <vector>

namespace gpt2 {

struct Stats {
  int count = 0;
  double median = 0, min = 0, max = 0, mean = 0, stddev = 0;
};
Stats summarize_samples(std::vector<double> samples);

}  // namespace gpt2
