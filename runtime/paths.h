// Where the project's data lives: the committed datasets (prompts, goldens,
// tokenizer files, fixtures) with the model cache, and the reports folder.
// Fixed at configure time to the source tree's folders; an environment
// variable of the same name overrides each (a copy of the tree on another
// machine, a test's own folder).
#pragma once

#include <filesystem>

namespace gpt2 {

// datasets/: $GPT2_DATASETS_DIR if set, else the source tree's datasets/.
std::filesystem::path datasets_dir();

// reports/: $GPT2_REPORTS_DIR if set, else the source tree's reports/. New
// runs go to its runs/ folder unless a tool's --out says otherwise.
std::filesystem::path reports_dir();

}  // namespace gpt2
