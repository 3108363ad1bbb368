// The CUDA tests' main: on a machine without a usable GPU it says so in one
// line and exits 77, which CTest reports as "skipped" (never as passed).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "backends/cuda/device.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string why;
  if (gpt2::cuda::device_count(&why) == 0) {
    std::printf("no CUDA device: %d tests skipped (%s)\n",
                ::testing::UnitTest::GetInstance()->total_test_count(), why.c_str());
    return 77;
  }
  return RUN_ALL_TESTS();
}
