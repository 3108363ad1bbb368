#include "runtime/backend_specs.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "backends/registry.h"
#include "runtime/lists.h"
#include "runtime/scheduler.h"

namespace gpt2 {

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string precisions_text(const std::vector<Precision>& precisions) {
  std::vector<std::string> names;
  for (Precision p : precisions) names.emplace_back(precision_name(p));
  return joined(names);
}

// The registry's entries a request names, and whether it named them.
std::vector<const BackendEntry*> requested_entries(std::string_view text, bool& named) {
  std::vector<const BackendEntry*> out;
  named = text != "all";
  if (!named) {
    for (const BackendEntry& e : backend_entries()) {
      if (e.numerics != Numerics::kNone) out.push_back(&e);
    }
    return out;
  }
  for (const std::string& name : parse_list(text, "backend")) out.push_back(&find_backend(name));
  return out;
}

}  // namespace

std::vector<std::string> BackendPlan::backends() const {
  std::vector<std::string> out;
  for (const BackendSpec& s : specs) {
    if (std::find(out.begin(), out.end(), s.backend) == out.end()) out.push_back(s.backend);
  }
  return out;
}

std::string precision_list_names() {
  return precision_names_joined() + ", bf16, all";
}

std::vector<Precision> parse_precision_list(std::string_view text) {
  return parse_value_list<Precision>(
      text, "precision", [](std::string_view name) { return parse_precision(name); },
      precision_list_names(), all_precisions());
}

std::vector<int> parse_batch_list(std::string_view text) {
  static constexpr NumberListKind kBatchList{"batch", "batch size", "sequences", 1, kMaxBatch};
  return parse_number_list(text, kBatchList);
}

std::vector<int> parse_device_list(std::string_view text) {
  static constexpr NumberListKind kDeviceList{"device", "GPU count", "GPUs", 1, kMaxGpus};
  return parse_number_list(text, kDeviceList);
}

std::vector<int> gpu_devices(int gpus, bool one_gpu) {
  std::vector<int> out(static_cast<std::size_t>(gpus), 0);
  if (!one_gpu) {
    for (int g = 0; g < gpus; g++) out[g] = g;
  }
  return out;
}

BackendSpec backend_spec(std::string_view backend, Precision precision, int threads, int batch) {
  const BackendEntry& entry = find_backend(backend);
  if (!offers_precision(entry, precision)) {
    throw std::invalid_argument("Backend " + std::string(backend) + " offers " +
                                offered_precisions(entry) + ", not " + precision_name(precision) +
                                ".");
  }
  if (threads < 1) throw std::invalid_argument("Threads must be at least 1.");
  if (batch < 1 || batch > kMaxBatch) {
    throw std::invalid_argument("A batch of " + std::to_string(batch) + " is outside [1, " +
                                std::to_string(kMaxBatch) + "].");
  }
  BackendSpec spec;
  spec.backend = std::string(backend);
  spec.precision = precision;
  spec.threads = entry.threaded ? threads : 1;
  spec.batch = batch;
  return spec;
}

BackendPlan expand_backend_specs(const BackendRequest& request) {
  BackendPlan plan;
  plan.precisions = parse_precision_list(request.precisions);
  const bool precisions_named = request.precisions != "all";
  plan.threads = parse_thread_list(request.threads);
  plan.batches = parse_batch_list(request.batches);
  plan.devices = parse_device_list(request.devices);
  bool backends_named = false;
  const std::vector<const BackendEntry*> entries =
      requested_entries(request.backends, backends_named);
  std::map<std::string, std::vector<std::string>> skipped;  // reason -> configurations
  for (const BackendEntry* e : entries) {
    const std::string name(e->name);
    std::vector<Precision> offered;
    for (Precision p : plan.precisions) {
      if (offers_precision(*e, p)) offered.push_back(p);
    }
    if (offered.empty()) {
      if (!backends_named) continue;
      throw std::invalid_argument("Backend " + name + " offers " + offered_precisions(*e) +
                                  ", not " + precisions_text(plan.precisions) + ".");
    }
    // The precisions asked for that this machine cannot run, with why; and
    // whether it runs none of the backend's at all (a GPU backend without a GPU).
    std::vector<std::pair<Precision, std::string>> cannot;
    for (Precision p : offered) {
      if (std::string why; !backend_available(*e, p, &why)) cannot.emplace_back(p, why);
    }
    const bool none_runs = std::none_of(e->precisions.begin(), e->precisions.end(),
                                        [&](Precision p) { return backend_available(*e, p); });
    for (const auto& [p, why] : cannot) {
      if (backends_named && precisions_named) {
        throw std::invalid_argument(none_runs ? "Backend " + name + " cannot run here: " + why + "."
                                              : "Backend " + name + " cannot run " +
                                                    precision_name(p) + " here: " + why + ".");
      }
      // Said once per backend when it runs nothing here, else per precision.
      const std::string what = none_runs ? name : name + " " + precision_name(p);
      std::vector<std::string>& list = skipped[why];
      if (std::find(list.begin(), list.end(), what) == list.end()) list.push_back(what);
    }
    for (Precision p : offered) {
      const bool runs =
          std::none_of(cannot.begin(), cannot.end(), [&](const auto& c) { return c.first == p; });
      if (!runs) continue;
      const std::vector<int> counts = e->threaded ? plan.threads : std::vector<int>{1};
      const std::vector<int> gpus = e->multi_gpu ? plan.devices : std::vector<int>{1};
      for (int threads : counts) {
        for (int g : gpus) {
          for (int batch : plan.batches) {
            BackendSpec spec = backend_spec(name, p, threads, batch);
            if (e->multi_gpu) spec.devices = gpu_devices(g, request.one_gpu);
            plan.specs.push_back(std::move(spec));
          }
        }
      }
    }
  }
  for (const auto& [why, what] : skipped)
    plan.skipped.push_back("skipping " + joined(what) + ": " + why);
  if (plan.specs.empty()) {
    throw std::invalid_argument("No backend that runs here offers " +
                                precisions_text(plan.precisions) + ".");
  }
  return plan;
}

}  // namespace gpt2
