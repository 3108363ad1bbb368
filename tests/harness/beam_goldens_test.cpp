// The beam goldens' files (harness/beam_goldens.h): every committed file reads
// back to what its writer wrote, and a malformed one is refused in one line
// that names the file and the line.
#include "harness/beam_goldens.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "runtime/model_source.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The file without its header comments ("# " lines), as write_beam_goldens
// writes it with no header.
std::string without_header(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# ", 0) != 0) out += line + "\n";
  }
  return out;
}

TEST(BeamGoldensTest, EveryCommittedFileReadsBackAsWritten) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(datasets_dir() / "goldens")) {
    const std::string name = entry.path().filename().string();
    if (name.find(".beams-") == std::string::npos) continue;
    const BeamGoldenFile g = read_beam_goldens(entry.path());
    EXPECT_FALSE(g.rows.empty()) << name;
    const auto copy = test::temp_dir() / name;
    write_beam_goldens(copy, g, {});
    EXPECT_EQ(file_text(copy), without_header(file_text(entry.path()))) << name;
    files++;
  }
  EXPECT_GE(files, 18);  // 2 models x 3 precisions x 3 settings
}

std::string parse_error(const std::string& text) {
  try {
    parse_beam_goldens(text, "beams.txt");
  } catch (const DataFileError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(BeamGoldensTest, MalformedFilesNameTheLine) {
  const std::string head = "model: m\nchecksum: c\nbeams: 2\n";
  const std::string row = "p\t0\t-1.5\tbfc00000\t3\t0.25\t0123456789abcdef\t1 2 3\n";
  EXPECT_EQ(parse_beam_goldens(head + row, "beams.txt").rows.size(), 1u);
  EXPECT_EQ(parse_error("model: m\n"), "beams.txt:1: no model or checksum line");
  EXPECT_EQ(parse_error("colour: red\n"), "beams.txt:1: unknown key 'colour'");
  EXPECT_EQ(parse_error("beams\n"), "beams.txt:1: expected 'key: value'");
  EXPECT_EQ(parse_error("beams: two\n"), "beams.txt:1: 'two' is not an integer");
  EXPECT_EQ(parse_error("length_penalty: x\n"), "beams.txt:1: 'x' is not a number");
  EXPECT_EQ(parse_error("precision: fp8\n"), "beams.txt:1: unknown precision 'fp8'");
  EXPECT_EQ(parse_error("early_stopping: soon\n"), "beams.txt:1: unknown early_stopping 'soon'");
  EXPECT_EQ(parse_error(head + "p\t0\t-1.5\n"), "beams.txt:4: expected 8 tab-separated columns");
  EXPECT_EQ(parse_error(head + "p\tx\t-1.5\tbfc00000\t3\t0.25\t0123456789abcdef\t1\n"),
            "beams.txt:4: 'x' is not an integer");
  EXPECT_EQ(parse_error(head + "p\t0\t-1.5\tbfc00001\t3\t0.25\t0123456789abcdef\t1\n"),
            "beams.txt:4: the score -1.5 does not have the bits bfc00001");
  EXPECT_EQ(parse_error(head + "p\t0\t-1.5\tbfc00000\t3\t0.25\t0123456789abcdef\t1 y\n"),
            "beams.txt:4: 'y' is not an integer");
  // A margin of inf (a search with no choice) reads back.
  const BeamGoldenFile g =
      parse_beam_goldens(head + "p\t0\t-1.5\tbfc00000\t3\tinf\t0123456789abcdef\t1\n", "b.txt");
  EXPECT_TRUE(std::isinf(g.rows[0].margin));
}

}  // namespace
}  // namespace gpt2
