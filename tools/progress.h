// Progress lines on stderr for long runs: rewritten in place on a terminal, a
// plain line at most every few seconds otherwise (CI logs).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace gpt2 {

class Progress {
 public:
  explicit Progress(bool enabled = true) : enabled_(enabled), tty_(::isatty(2) != 0) {}
  // Shows `text` (one line, no newline).
  void update(const std::string& text) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s", text.c_str());
      shown_ = true;
    } else if (now - last_ >= std::chrono::seconds(5)) {
      std::fprintf(stderr, "%s\n", text.c_str());
      last_ = now;
    }
  }
  // Ends the in-place line, if any.
  void done() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }
  ~Progress() { done(); }

 private:
  bool enabled_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace gpt2
