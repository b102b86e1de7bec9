#include "util/json_int.h"

#include <gtest/gtest.h>

namespace lode {
namespace {

TEST(IntegerOfTest, AcceptsOnlyIntegersThatFit) {
  using nlohmann::json;
  EXPECT_EQ(IntegerOf<uint64_t>(json::parse("18446744073709551615")), UINT64_MAX);
  EXPECT_EQ(IntegerOf<int64_t>(json::parse("-5")), -5);
  EXPECT_EQ(IntegerOf<uint32_t>(json::parse("4294967295")), UINT32_MAX);
  EXPECT_THROW(IntegerOf<uint32_t>(json::parse("4294967296")), json::type_error);
  EXPECT_THROW(IntegerOf<uint64_t>(json::parse("-1")), json::type_error);
  EXPECT_THROW(IntegerOf<uint64_t>(json::parse("1e33")), json::type_error);  // UB via get<>
  EXPECT_THROW(IntegerOf<uint64_t>(json::parse("1.0")), json::type_error);
  EXPECT_THROW(IntegerOf<int64_t>(json::parse("\"7\"")), json::type_error);
}

}  // namespace
}  // namespace lode
