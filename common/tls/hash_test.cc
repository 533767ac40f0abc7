#include "common/tls/hash.h"

#include <gtest/gtest.h>

#include <string>

namespace common::tls {
namespace {

std::string Hex(const std::array<uint8_t, 16>& d) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += kDigits[b >> 4];
    s += kDigits[b & 0xf];
  }
  return s;
}

TEST(Hash, Md5KnownAnswers) {
  // RFC 1321 appendix A.5 test suite.
  struct Case {
    std::string_view in, want;
  } cases[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (const auto& c : cases) EXPECT_EQ(Hex(Md5(c.in)), c.want) << "input \"" << c.in << "\"";
}

TEST(Hash, Md5HandlesEmbeddedNul) {
  std::string with_nul("a\0b", 3);
  EXPECT_NE(Hex(Md5(with_nul)), Hex(Md5("a")));
}

}  // namespace
}  // namespace common::tls
