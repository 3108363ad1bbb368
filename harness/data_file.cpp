#include "harness/data_file.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "harness/goldens.h"
#include "reference/printable.h"

namespace gpt2::data_file {

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataFileError(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw DataFileError(path.string() + ": cannot read: " + std::strerror(errno));
  return text.str();
}

void fail(const std::filesystem::path& path, int line, const std::string& what) {
  throw DataFileError(printable(path.string() + ":" + std::to_string(line) + ": " + what));
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  if (sep == ' ') {
    std::istringstream in(line);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); i++) {
    if (i == line.size() || line[i] == sep) {
      out.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool split_key_value(const std::string& line, std::string& key, std::string& value) {
  const std::size_t colon = line.find(": ");
  if (colon == std::string::npos) return false;
  key = line.substr(0, colon);
  value = line.substr(colon + 2);
  return true;
}

bool parse_int(const std::string& s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_float(const std::string& s, float& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtof(s.c_str(), &end);
  return !s.empty() && errno == 0 && end == s.c_str() + s.size();
}

}  // namespace gpt2::data_file
