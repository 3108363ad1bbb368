// Token ids as a person writes them on a command line: one id, or a list.
#pragma once

#include <string_view>
#include <vector>

namespace gpt2 {

// One token id in decimal: an optional '-', then digits, nothing else (no '+',
// no spaces). Any int is returned, negative ones included: whether it is in a
// vocabulary is the caller's question (models differ). Throws
// std::invalid_argument with a one-line message:
//   "Token 'abc' is not an integer."   (also "1.5", "12x", "")
//   "Token 99999999999 is out of range."   (beyond int)
int parse_token_id(std::string_view text);

// Token ids separated by whitespace and/or commas: "464 2068", "464,2068",
// " 464, 2068\n". A run of separators is one separator; an empty or blank text
// gives no ids. Each id as parse_token_id (its exceptions and messages).
std::vector<int> parse_token_ids(std::string_view text);

}  // namespace gpt2
