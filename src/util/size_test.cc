#include "util/size.h"

#include <gtest/gtest.h>

namespace lode {
namespace {

TEST(SizeTest, ParsesBinaryAndDecimalUnits) {
  EXPECT_EQ(ParseSize("4096").value(), 4096u);
  EXPECT_EQ(ParseSize("512KiB").value(), 512u * 1024);
  EXPECT_EQ(ParseSize("64M").value(), 64u << 20);
  EXPECT_EQ(ParseSize("1.5GiB").value(), 3ull << 29);
  EXPECT_EQ(ParseSize("2GB").value(), 2000000000u);
}

TEST(SizeTest, RejectsGarbage) {
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("MiB").ok());
  EXPECT_FALSE(ParseSize("12 parsecs").ok());
}

TEST(SizeTest, FormatsHumanReadable) {
  EXPECT_EQ(FormatSize(512), "512 B");
  EXPECT_EQ(FormatSize(3ull << 29), "1.5 GiB");
}

}  // namespace
}  // namespace lode
