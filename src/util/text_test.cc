#include "util/text.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lode
