#include "keys/keyd_protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace lode::keys {
namespace {

// A reader over `bytes`, handing out at most `step` bytes per read.
RequestReader Over(const std::string& bytes, size_t step) {
  auto at = std::make_shared<size_t>(0);
  return RequestReader([bytes, step, at](char* buf, size_t n) -> Result<size_t> {
    size_t take = std::min({n, step, bytes.size() - *at});
    std::memcpy(buf, bytes.data() + *at, take);
    *at += take;
    return take;
  });
}

TEST(KeydProtocolTest, RequestsWithPayloadsRoundTripWhateverTheReadSizes) {
  std::string payload(70000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31);
  payload[5] = '\n';
  std::string stream = EncodeRequest({{"op", "open"}}, payload) +
                       EncodeRequest({{"op", "whoami"}}) + EncodeRequest({{"op", "x"}}, "ab");
  for (size_t step : {1u, 7u, 4096u, 1u << 20}) {
    RequestReader reader = Over(stream, step);
    auto first = *reader.Next();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->fields["op"], "open");
    EXPECT_EQ(first->payload, payload);
    auto second = *reader.Next();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->fields["op"], "whoami");
    EXPECT_EQ(second->payload, "");
    EXPECT_EQ((*reader.Next())->payload, "ab");
    EXPECT_FALSE(*reader.Next());  // the stream ended between requests
  }
}

TEST(KeydProtocolTest, FramesThatCannotBeReadAreErrors) {
  auto error = [](const std::string& stream) {
    RequestReader reader = Over(stream, 100);
    Result<std::optional<Request>> r = reader.Next();
    EXPECT_FALSE(r.ok()) << stream.substr(0, 80);
    return r.ok() ? "" : r.status().message();
  };
  EXPECT_NE(error(std::string(kMaxLineBytes + 10, 'x')).find("longer than"), std::string::npos);
  EXPECT_NE(error("{\"op\":1").find("inside a request line"), std::string::npos);
  EXPECT_NE(error("{\"payload_bytes\": 10}\nabc").find("inside a request's payload"),
            std::string::npos);
  EXPECT_NE(error("{\"payload_bytes\": -1}\n").find("payload_bytes"), std::string::npos);
  EXPECT_NE(error("{\"payload_bytes\": 1e30}\n").find("payload_bytes"), std::string::npos);
  // A line that is not JSON is a request the service refuses, not a frame
  // error: the connection goes on.
  RequestReader reader = Over("not json\n{\"op\":\"whoami\"}\n", 3);
  EXPECT_TRUE((*reader.Next())->fields.is_discarded());
  EXPECT_EQ((*reader.Next())->fields["op"], "whoami");
}

}  // namespace
}  // namespace lode::keys
