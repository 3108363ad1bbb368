// gpt2-bench backends: the backends built into this binary, what they offer
// and which of them this machine runs (and why not); --list prints only the
// names of those that run here, for scripts (the CI's equality gate).
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "backends/registry.h"
#include "runtime/backend_specs.h"
#include "runtime/lists.h"
#include "tools/bench/commands.h"

namespace gpt2::bench {
namespace {

struct BackendsCli {
  std::string numerics;            // bit-exact, reordered, or any
  std::string precisions = "all";  // those that run one of these here
  std::string except;              // names left out
  bool list = false;               // one comma list of names, for scripts
  bool kernels_isa = false;        // the bit-exact CPU kernels' instruction set here
};

CLI::App* add_backends_command(CLI::App& app, BackendsCli& b) {
  CLI::App* backends = app.add_subcommand(
      "backends",
      "The backends built into this binary, what they offer and which of them this machine "
      "runs (and why not); with --list, the names of those that run here, for scripts "
      "(the CI's equality gate)");
  backends->add_option("--numerics", b.numerics, "Only these: bit-exact or reordered");
  backends
      ->add_option("--precision", b.precisions,
                   "Only those that run one of these here (a precision list, or all)")
      ->capture_default_str();
  backends->add_option("--except", b.except, "Leave these out (a backend list)");
  backends->add_flag("--list", b.list,
                     "Print only their names, comma-separated, on one line (nothing when none)");
  backends->add_flag("--kernels-isa", b.kernels_isa,
                     "Print only the instruction set the bit-exact CPU kernels use here "
                     "(avx512, avx2 or generic; GPT2_MAX_CPU_ISA caps it)");
  return backends;
}

int run_backends_command(const BackendsCli& b) {
  if (b.kernels_isa) {
    std::cout << cpu_kernels_isa() << "\n";
    return 0;
  }
  std::optional<Numerics> numerics;
  if (!b.numerics.empty()) {
    for (Numerics n : {Numerics::kBitExact, Numerics::kReordered}) {
      if (b.numerics == numerics_name(n)) numerics = n;
    }
    if (!numerics) throw_unknown_item("numerics", b.numerics, "bit-exact, reordered");
  }
  std::vector<std::string> except;
  if (!b.except.empty()) {
    for (const std::string& name : parse_list(b.except, "backend")) {
      find_backend(name);  // an unknown name is a mistake
      except.push_back(name);
    }
  }
  const std::vector<Precision> precisions = parse_precision_list(b.precisions);
  std::string names;
  std::ostringstream table;
  table << "| backend | numerics | batch-invariant | device | threaded | offers | runs here | "
           "cannot run here |\n"
        << "|---|---|---|---|---|---|---|---|\n";
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics == Numerics::kNone || (numerics && e.numerics != *numerics)) continue;
    if (std::find(except.begin(), except.end(), e.name) != except.end()) continue;
    std::string here, not_here;
    for (Precision p : e.precisions) {
      if (std::find(precisions.begin(), precisions.end(), p) == precisions.end()) continue;
      if (std::string why; !backend_available(e, p, &why)) {
        not_here += std::string(not_here.empty() ? "" : "; ") + precision_name(p) + ": " + why;
      } else {
        here += std::string(here.empty() ? "" : ", ") + precision_name(p);
      }
    }
    if (here.empty() && not_here.empty()) continue;  // offers none of the precisions
    if (!here.empty()) names += (names.empty() ? "" : ",") + std::string(e.name);
    table << "| " << e.name << " | " << numerics_name(e.numerics) << " | "
          << batch_invariance_name(e.batch_invariance) << " | " << device_name(e.device) << " | "
          << (e.threaded ? "yes" : "no") << " | " << offered_precisions(e) << " | "
          << (here.empty() ? "-" : here) << " | " << (not_here.empty() ? "-" : not_here) << " |\n";
  }
  std::cout << (b.list ? names + "\n" : table.str());
  return 0;
}

}  // namespace

Command register_backends(CLI::App& app) {
  auto b = std::make_shared<BackendsCli>();
  CLI::App* backends = add_backends_command(app, *b);
  return {backends, [b](const std::string&) { return run_backends_command(*b); }};
}

}  // namespace gpt2::bench
