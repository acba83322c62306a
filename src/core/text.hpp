// Small text utilities shared by the news readers, the sentiment scorers and
// the feature pipeline.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pricecast {

// Byte offset of the first invalid UTF-8 sequence (bad lead byte, truncated or
// bad continuation, overlong form, surrogate, > U+10FFFF); nullopt when valid.
std::optional<std::size_t> invalid_utf8_at(std::string_view s) noexcept;
// Every byte is a Latin-1 code point.
std::string latin1_to_utf8(std::string_view s);
bool is_blank(std::string_view s) noexcept;

}  // namespace pricecast
