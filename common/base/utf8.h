#pragma once
// UTF-8 checks shared by every component that turns bytes from the outside (files, scrapes,
// discovery) into label values. Thread affinity: none (pure functions).

#include <cstddef>
#include <string>
#include <string_view>

namespace common {

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 when it is invalid (bad lead
// byte, truncated, overlong, surrogate, beyond U+10FFFF).
size_t Utf8SeqLen(std::string_view s, size_t i);
bool IsValidUtf8(std::string_view s);
// Go's strings.ToValidUTF8(s, "\uFFFD"): every run of invalid bytes becomes one U+FFFD. Returns
// `s` itself when it is valid (no copy), else a view of `out`.
std::string_view ToValidUtf8(std::string_view s, std::string& out);

}  // namespace common
