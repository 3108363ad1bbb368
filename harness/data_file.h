// What the readers of the datasets/ text files share (goldens.cpp,
// beam_goldens.cpp): a file read whole, a line split into fields, numbers that
// must fill their field, and the one-line error naming the file and the line.
// Inside the harness only.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace gpt2::data_file {

// The file's bytes. Throws DataFileError "<path>: cannot open: <reason>" (or
// "cannot read").
std::string read(const std::filesystem::path& path);

// Throws DataFileError "<path>:<line>: <what>", control characters written as
// \xNN (printable()) so that it stays one line.
[[noreturn]] void fail(const std::filesystem::path& path, int line, const std::string& what);

// The fields of a line between separators (every one, empty ones too); for
// ' ', the words between runs of whitespace.
std::vector<std::string> split(const std::string& line, char sep);

// A "key: value" line: false when it has no ": ".
bool split_key_value(const std::string& line, std::string& key, std::string& value);

// Whole-field numbers: false unless the text is one number and nothing else
// (an int in range; a float that strtof reads without overflow or underflow;
// "inf" and "nan" are numbers).
bool parse_int(const std::string& s, int& out);
bool parse_float(const std::string& s, float& out);

}  // namespace gpt2::data_file
