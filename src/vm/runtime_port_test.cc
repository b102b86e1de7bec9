#include "vm/runtime_port.h"

#include <gtest/gtest.h>

namespace lode::vm {
namespace {

TEST(RuntimePortTest, FramesRoundTripWhateverTheReadsCutThem) {
  std::vector<Frame> sent = {{7, FrameKind::kData, "GET /2018-06-01/runtime/invocation/next"},
                             {7, FrameKind::kClose, ""},
                             {0xfffffffe, FrameKind::kData, std::string(kMaxFrameBytes, 'x')}};
  std::string wire;
  for (const Frame& f : sent) wire += EncodeFrame(f);
  for (size_t step : {1ul, 5ul, 9ul, 1000ul, wire.size()}) {
    std::string buffer;
    std::vector<Frame> got;
    for (size_t at = 0; at < wire.size(); at += step) {
      buffer += wire.substr(at, step);
      Result<std::vector<Frame>> frames = TakeFrames(buffer);
      ASSERT_TRUE(frames.ok()) << frames.status().ToString();
      got.insert(got.end(), frames->begin(), frames->end());
    }
    EXPECT_TRUE(buffer.empty());
    ASSERT_EQ(got.size(), sent.size()) << "step " << step;
    for (size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(got[i].connection, sent[i].connection);
      EXPECT_EQ(got[i].kind, sent[i].kind);
      EXPECT_EQ(got[i].bytes, sent[i].bytes);
    }
  }
}

TEST(RuntimePortTest, RefusesUnknownKindsAndOversizedFrames) {
  std::string unknown = EncodeFrame({1, FrameKind::kData, "x"});
  unknown[4] = 9;
  EXPECT_EQ(TakeFrames(unknown).status().code(), StatusCode::kCorruption);
  std::string huge = EncodeFrame({1, FrameKind::kData, ""});
  huge[5 + 3] = 1;  // length 2^24
  EXPECT_EQ(TakeFrames(huge).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace lode::vm
