// What every fuzz target shares: the check that an error is the project's
// one-line message, and a way to stop loudly on a broken property.
//
// A target calls the parser on the input, catches only the exceptions the
// parser documents (each must be one non-empty line: no '\n' or '\r'), and
// checks properties of a successful parse. Anything else (another exception, a
// crash, a sanitizer report, a failed property) ends the run as a finding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace gpt2::fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  const std::string text(detail);
  std::fprintf(stderr, "FUZZ PROPERTY FAILED: %s: %s\n", what, text.c_str());
  std::abort();
}

inline void check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

// A documented error must be one line of text, not empty.
inline void check_one_line(const std::exception& e) {
  const std::string_view m = e.what();
  check(!m.empty(), "an error message is empty");
  check(m.find_first_of("\r\n") == std::string_view::npos, "an error message is not one line", m);
}

}  // namespace gpt2::fuzz
