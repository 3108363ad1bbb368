// A rank's wait for its stream, bounded: polls until the stream is done, the
// group is aborted (`aborted()`), or GPT2_TP_TIMEOUT seconds pass (then
// `abort()`); throws std::runtime_error naming the rank in the last two cases.
#pragma once

#include <cuda_runtime_api.h>

#include <functional>

namespace gpt2::tp {

void wait_stream(cudaStream_t stream, int rank, const std::function<bool()>& aborted,
                 const std::function<void()>& abort);

}  // namespace gpt2::tp
