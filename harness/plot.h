// The sweep's SVG plot: threads on x, speedup over 1 thread on y, a line per
// threaded backend, precision and mode, the ideal line, and the scaling of
// each ceiling that bounds a line (e.g. the read bandwidth at N threads over
// that at 1), when measured. Drawn from a SweepResult alone (a report read back
// from its JSON draws the same).
#pragma once

#include <string>

#include "harness/bench.h"

namespace gpt2 {

std::string speedup_svg(const SweepResult& result, const std::string& title);

}  // namespace gpt2
