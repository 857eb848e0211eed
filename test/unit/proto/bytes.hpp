// Test helpers: spell expected wire bytes by hand.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace pgquay::proto::test {

// Bytes from numbers (0..255) and characters mixed: B({'R', 0, 0, 0, 8}).
inline std::string B(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// A string literal including its NULs: S("a\0b") has three bytes.
template <std::size_t N>
std::string S(const char (&text)[N]) {
  return std::string(text, N - 1);
}

inline std::string be32(std::uint32_t v) {
  return B({static_cast<int>(v >> 24), static_cast<int>((v >> 16) & 0xff),
            static_cast<int>((v >> 8) & 0xff), static_cast<int>(v & 0xff)});
}

// A typed message with an arbitrary body, built by hand (independent of MessageWriter).
inline std::string message(char type, std::string_view body) {
  return std::string(1, type) + be32(static_cast<std::uint32_t>(body.size() + 4)) +
         std::string(body);
}

}  // namespace pgquay::proto::test
