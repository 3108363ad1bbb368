// GPT-2's pre-tokenization: the text is cut into pieces by OpenAI's pattern
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// (leftmost alternative first, each quantifier greedy), and byte-pair merges
// never cross a piece boundary. This is a hand-written scanner for exactly that
// pattern over the classes of utf8.h, with no regex engine:
//   - "'s" "'t" "'re" "'ve" "'m" "'ll" "'d" (ASCII apostrophe, lower case only);
//   - else one optional U+0020 and a run of letters, of numbers, or of other
//     characters (the space joins the run that follows it);
//   - else a run of whitespace: the whole run at the end of the text, else all of
//     it but its last character when it has two or more (that last one then
//     prefixes the next word when it is a U+0020), else the single character.
// Bytes that are not part of well-formed UTF-8 are "other" characters, as U+FFFD
// would be, so the pieces of any byte string are those of its WHATWG-decoded text
// (utf8.h's replace_invalid_utf8), piece for piece.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace gpt2 {

// The end of the piece that starts at byte `begin` (< text.size()).
std::size_t next_piece_end(std::string_view text, std::size_t begin);

// All pieces of `text`, in order; they concatenate to `text`.
std::vector<std::string_view> pretokenize(std::string_view text);

}  // namespace gpt2
