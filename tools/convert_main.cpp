// gpt2-convert: writes any model the commands accept (a Hugging Face model.safetensors or its
// folder, an llm.c checkpoint, synthetic:<preset>) as an llm.c checkpoint, float32 (version 3)
// or bfloat16 (version 5). The output appears whole or not at all (write_checkpoint writes a
// temporary file and renames it).
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <string>

#include "reference/checkpoint.h"
#include "runtime/cli.h"
#include "runtime/model_source.h"

int main(int argc, char** argv) {
  using namespace gpt2;
  CLI::App app{
      "Convert a GPT-2 checkpoint to llm.c's format (what train_gpt2.c and the lab's gpt read).\n\n"
      "Example: gpt2-convert datasets/models/gpt2 datasets/models/gpt2_124M.bin",
      "gpt2-convert"};
  std::string input;
  std::string output;
  std::string dtype = "float32";
  app.add_option("input", input,
                 "A Hugging Face model.safetensors (config.json beside it) or its folder, an "
                 "llm.c checkpoint, or synthetic:<preset>[:seed=N]")
      ->required();
  app.add_option("output", output, "The llm.c checkpoint to write (replaced if it exists)")
      ->required();
  app.add_option("--dtype", dtype,
                 "float32 (llm.c version 3) or bfloat16 (version 5, half the size)")
      ->capture_default_str();
  if (const std::optional<int> status = parse_arguments(app, argc, argv)) return *status;

  try {
    int version = 0;
    if (dtype == "float32") {
      version = 3;
    } else if (dtype == "bfloat16") {
      version = 5;
    } else {
      throw std::invalid_argument("Unknown --dtype '" + dtype + "' (known: float32, bfloat16).");
    }
    const std::filesystem::path out(output);
    std::error_code ec;
    if (std::filesystem::is_directory(out, ec)) {
      throw std::invalid_argument(output + ": is a directory; give the checkpoint file to write");
    }
    if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(out, input, ec)) {
      throw std::invalid_argument(output + ": is the input itself; write to another file");
    }
    const std::shared_ptr<const Model> model = open_model(input, &std::cerr);
    const ModelConfig& c = model->config();
    write_checkpoint(out, c, model->parameters(), version);
    std::cout << "wrote " << output << ": llm.c version " << version << " (" << dtype << "), "
              << num_real_parameters(c) << " parameters, L=" << c.num_layers
              << " NH=" << c.num_heads << " C=" << c.channels << " V=" << c.vocab_size
              << " Vp=" << c.padded_vocab_size << " maxT=" << c.max_seq_len << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
  }
  return 1;
}
