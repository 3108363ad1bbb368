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

// Whether the rows were measured at more than one batch size.
bool has_batch_axis(const SweepResult& result);

// Throughput against batch size: batch on x (doubling steps), generated
// tokens/s on y, a line per backend, precision, mode and thread count, and
// beside each its roofline where the sweep measured the ceilings: at each
// batch, the tokens/s its weight bytes allow at the read bandwidth or its
// FLOPs at the peak its numerics can use, whichever is lower (so a line
// moves from the bandwidth's slope to the compute ceiling's flat).
std::string batch_svg(const SweepResult& result, const std::string& title);

}  // namespace gpt2
