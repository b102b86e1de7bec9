#include "util/text.h"

#include <gtest/gtest.h>

#include <array>

#include "util/base64.h"

namespace lode {
namespace {

TEST(EscapeControlTest, KeepsPrintableTextAndEscapesControlCharacters) {
  EXPECT_EQ(EscapeControl("usr/lib/ü x"), "usr/lib/ü x");
  EXPECT_EQ(EscapeControl("a\nb\r\x1b[2J\x7f"), "a\\x0ab\\x0d\\x1b[2J\\x7f");
  EXPECT_EQ(EscapeControl(std::string("nul\0end", 7)), "nul\\x00end");
}

TEST(ExcerptTest, ShortensLongTextAndKeepsItOnOneLine) {
  EXPECT_EQ(Excerpt("short"), "short");
  EXPECT_EQ(Excerpt(std::string(300, 'a')), std::string(200, 'a') + "...");
  EXPECT_EQ(Excerpt("a\nb", 2), "a\\x0a...");
}

TEST(TrimTest, RemovesSurroundingWhitespaceOnly) {
  EXPECT_EQ(Trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(Trim(""), "");
}

TEST(TextTest, SplitKeepsEmptyPieces) {
  EXPECT_EQ(Split("a b", ' '), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Split(" a  b ", ' '), (std::vector<std::string>{"", "a", "", "b", ""}));
  EXPECT_EQ(Split("", ' '), (std::vector<std::string>{""}));
}

TEST(TextTest, FromHexTakesExactlyLowerCaseHexOfTheRightLength) {
  std::array<uint8_t, 3> out{};
  EXPECT_TRUE(FromHex("00ff7a", out));
  EXPECT_EQ(out, (std::array<uint8_t, 3>{0x00, 0xff, 0x7a}));
  EXPECT_FALSE(FromHex("00ff7", out));
  EXPECT_FALSE(FromHex("00ff7a00", out));
  EXPECT_FALSE(FromHex("00FF7a", out));
  EXPECT_FALSE(FromHex("00fg7a", out));
}

TEST(Base64Test, RoundTripsWithAndWithoutPadding) {
  for (std::string s : {"", "a", "ab", "abc", "lode:s3cret", "user:pa:ss"}) {
    std::string encoded = Base64Encode(s);
    EXPECT_EQ(Base64Decode(encoded), s);
    while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
    EXPECT_EQ(Base64Decode(encoded), s);
  }
  EXPECT_FALSE(Base64Decode("!!!!").has_value());
}

}  // namespace
}  // namespace lode
