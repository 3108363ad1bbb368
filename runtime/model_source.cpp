#include "runtime/model_source.h"

#include <charconv>
#include <stdexcept>

#include "reference/checkpoint.h"
#include "reference/safetensors.h"
#include "reference/synthetic.h"
#include "runtime/paths.h"

namespace gpt2 {

std::optional<SyntheticSpec> parse_synthetic_spec(std::string_view spec) {
  constexpr std::string_view kPrefix = "synthetic:";
  if (!spec.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = spec.substr(kPrefix.size());
  SyntheticSpec out;
  out.seed = kDefaultSyntheticSeed;
  const std::size_t colon = rest.find(':');
  out.preset = std::string(rest.substr(0, colon));
  if (!find_preset(out.preset)) {
    throw std::invalid_argument("Unknown synthetic preset '" + out.preset +
                                "' (known: " + preset_names() + ")");
  }
  if (colon != std::string_view::npos) {
    std::string_view seed = rest.substr(colon + 1);
    if (!seed.starts_with("seed=")) {
      throw std::invalid_argument("bad synthetic model '" + std::string(spec) +
                                  "': expected synthetic:<preset>[:seed=<N>]");
    }
    seed.remove_prefix(5);
    auto [p, ec] = std::from_chars(seed.data(), seed.data() + seed.size(), out.seed);
    if (ec != std::errc() || p != seed.data() + seed.size() || seed.empty()) {
      throw std::invalid_argument("bad seed in '" + std::string(spec) +
                                  "': expected a non-negative integer");
    }
  }
  return out;
}

std::string default_model_spec() {
  const std::filesystem::path real = datasets_dir() / "models" / "gpt2_124M.bin";
  if (std::filesystem::exists(real)) return real.string();
  return synthetic_name("124M", kDefaultSyntheticSeed);
}

std::shared_ptr<const Model> open_model(std::string_view spec, std::ostream* log) {
  if (spec.empty() || spec == "default") return open_model(default_model_spec(), log);
  std::optional<SyntheticSpec> synth = parse_synthetic_spec(spec);
  if (!synth) {
    const std::filesystem::path path(spec);
    if (looks_like_safetensors(path)) return load_safetensors(path);
    return Model::load(path);
  }

  const std::string name = synthetic_name(synth->preset, synth->seed);
  const std::filesystem::path dir = datasets_dir() / "cache";
  const std::filesystem::path file =
      dir / ("synthetic-" + synth->preset + "-seed" + std::to_string(synth->seed) + "-gen" +
             std::to_string(kSyntheticGeneratorVersion) + ".bin");
  if (!std::filesystem::exists(file)) {
    if (log != nullptr) {
      *log << "generating the synthetic model " << name << " into " << file.string() << " (once)\n";
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw CheckpointError(dir.string() + ": cannot create: " + ec.message());
    const ModelConfig config = *find_preset(synth->preset);
    write_checkpoint(file, config, synthetic_parameters(config, synth->seed));
  }
  return Model::load(file, name);
}

}  // namespace gpt2
