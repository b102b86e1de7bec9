#include "manifest/page_map.h"

#include <gtest/gtest.h>

#include <tuple>
#include <vector>

namespace lode::manifest {
namespace {

constexpr uint64_t kPage = PageMap::kPageSize;

using Piece = std::tuple<uint64_t, uint64_t, uint64_t>;  // stored, position, length

std::vector<Piece> Pieces(const PageMap& map, uint64_t offset, uint64_t bytes) {
  std::vector<Piece> pieces;
  Status s = map.ForEachPiece(offset, bytes, [&](uint64_t stored, uint64_t at, uint64_t n) {
    pieces.emplace_back(stored, at, n);
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return pieces;
}

TEST(PageMapTest, AConfigWithoutAMapReadsInPlace) {
  for (const char* config : {"", "{}", "not json", R"({"cmd": ["sh"]})"}) {
    Result<PageMap> map = PageMap::FromConfig(config, 64 * kPage);
    ASSERT_TRUE(map.ok()) << config;
    EXPECT_TRUE(map->empty());
    EXPECT_EQ(Pieces(*map, 100, 3 * kPage), std::vector<Piece>({{100, 0, 3 * kPage}}));
  }
}

TEST(PageMapTest, ReadsSplitAtRunEdges) {
  // Pages 2-3 are stored at 40-41, page 5 at 42.
  Result<PageMap> map =
      PageMap::FromConfig(R"({"page_map": [[2, 40, 2], [5, 42, 1]]})", 64 * kPage);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(Pieces(*map, 0, 8 * kPage), std::vector<Piece>({{0, 0, 2 * kPage},
                                                            {40 * kPage, 2 * kPage, 2 * kPage},
                                                            {4 * kPage, 4 * kPage, kPage},
                                                            {42 * kPage, 5 * kPage, kPage},
                                                            {6 * kPage, 6 * kPage, 2 * kPage}}));
  // Within a page, and starting inside a run.
  EXPECT_EQ(Pieces(*map, 3 * kPage + 10, 20), std::vector<Piece>({{41 * kPage + 10, 0, 20}}));
  EXPECT_EQ(Pieces(*map, 3 * kPage + 10, kPage),
            std::vector<Piece>({{41 * kPage + 10, 0, kPage - 10}, {4 * kPage, kPage - 10, 10}}));
  EXPECT_EQ(Pieces(*map, 9 * kPage, kPage), std::vector<Piece>({{9 * kPage, 0, kPage}}));
}

TEST(PageMapTest, MalformedMapsAreCorruption) {
  for (const char* config : {
           R"({"page_map": 3})",
           R"({"page_map": [[1, 2]]})",
           R"({"page_map": [[1, -2, 1]]})",
           R"({"page_map": [[1, 2, 0]]})",
           R"({"page_map": [[4, 20, 2], [5, 30, 1]]})",  // overlapping
           R"({"page_map": [[4, 20, 1], [2, 30, 1]]})",  // out of order
           R"({"page_map": [[63, 20, 2]]})",             // past the end
           R"({"page_map": [[1, 63, 2]]})",              // from past the end
           R"({"page_map": [[1, 18446744073709551615, 2]]})",
           R"({"page_map": [[4, 20, 2], [21, 30, 1]]})",  // stored on a moved page
           R"({"page_map": [[4, 5, 2]]})",
       }) {
    Result<PageMap> map = PageMap::FromConfig(config, 64 * kPage);
    EXPECT_EQ(map.status().code(), StatusCode::kCorruption) << config;
  }
}

TEST(PageMapTest, AReaderErrorStopsTheRead) {
  Result<PageMap> map = PageMap::FromConfig(R"({"page_map": [[1, 9, 1]]})", 16 * kPage);
  ASSERT_TRUE(map.ok());
  int calls = 0;
  Status s = map->ForEachPiece(0, 4 * kPage, [&](uint64_t, uint64_t, uint64_t) {
    ++calls;
    return Status::IOError("gone");
  });
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace lode::manifest
