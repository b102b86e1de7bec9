#include "util/status.h"

#include <gtest/gtest.h>

namespace lode {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd number " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  LODE_ASSIGN_OR_RETURN(int half, Half(x));
  return Half(half);
}

TEST(StatusTest, ErrorsPropagateThroughAssignOrReturn) {
  EXPECT_EQ(Quarter(8).value(), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().ToString(), "invalid: odd number 3");
}

TEST(StatusTest, WithContextKeepsCode) {
  Status s = Status::Corruption("bad block").WithContext("layer 2");
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.message(), "layer 2: bad block");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(StatusTest, CodesFromAnotherProcessAreKnownOrRejected) {
  EXPECT_EQ(StatusCodeFromWire(static_cast<int>(StatusCode::kNotFound)), StatusCode::kNotFound);
  EXPECT_EQ(StatusCodeFromWire(static_cast<int>(StatusCode::kFailedPrecondition)),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeFromWire(0), StatusCode::kRejected);  // "ok" is no error code
  EXPECT_EQ(StatusCodeFromWire(-1), StatusCode::kRejected);
  EXPECT_EQ(StatusCodeFromWire(1000), StatusCode::kRejected);
}

}  // namespace
}  // namespace lode
