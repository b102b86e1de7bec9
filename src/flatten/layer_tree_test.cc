#include "flatten/layer_tree.h"

#include <gtest/gtest.h>

#include "flatten/ext4/format.h"

namespace lode::flatten {
namespace {

using image::EntryType;
using image::TarEntry;

TarEntry Entry(const std::string& path, EntryType type = EntryType::kFile, uint32_t mode = 0644) {
  TarEntry e;
  e.path = path;
  e.type = type;
  e.mode = mode;
  e.size = type == EntryType::kFile ? 1 : 0;
  return e;
}
TarEntry Dir(const std::string& path, uint32_t mode = 0755) {
  return Entry(path, EntryType::kDirectory, mode);
}
TarEntry Link(const std::string& path, const std::string& target) {
  TarEntry e = Entry(path, EntryType::kHardlink);
  e.link_target = target;
  return e;
}

// Looks up a path in a finished tree; -1 when absent.
int Lookup(const ext4::FsTree& tree, const std::string& path) {
  uint32_t dir = 0;
  auto comps = LayerTree::SplitPath(path).value();
  for (const std::string& c : comps) {
    int found = -1;
    for (const auto& e : tree.entries[dir]) {
      if (e.name == c) found = static_cast<int>(e.inode);
    }
    if (found < 0) return -1;
    dir = static_cast<uint32_t>(found);
  }
  return static_cast<int>(dir);
}

class LayerTreeTest : public ::testing::Test {
 protected:
  LayerTree::Decision Apply(const TarEntry& e, int layer) {
    auto d = tree_.Apply(e, layer);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : LayerTree::Decision{};
  }
  ext4::FsTree Finish() {
    auto t = tree_.Finish();
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(*t) : ext4::FsTree{};
  }
  LayerTree tree_;
};

TEST_F(LayerTreeTest, SplitPathNormalisesAndRejectsEscapes) {
  EXPECT_EQ(LayerTree::SplitPath("./a//b/./c/").value(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(LayerTree::SplitPath("/a/x/../b").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(LayerTree::SplitPath("a/../../b").ok());
  EXPECT_FALSE(LayerTree::SplitPath("..").ok());
}

TEST_F(LayerTreeTest, UpperLayerShadowsAndHidesData) {
  EXPECT_EQ(Apply(Entry("f"), 0).action, LayerTree::DataAction::kStore);
  EXPECT_EQ(Apply(Entry("f"), 1).action, LayerTree::DataAction::kNone);  // hidden: data skipped
  EXPECT_EQ(tree_.stats().hidden, 1u);
}

TEST_F(LayerTreeTest, WhiteoutsDeleteFilesAndDirectoriesOfLowerLayersOnly) {
  Apply(Entry(".wh.f"), 0);
  Apply(Entry("d/.wh.g"), 0);
  Apply(Entry("d/h"), 0);
  Apply(Dir("d"), 1);
  Apply(Entry("f"), 1);
  Apply(Entry("d/g"), 1);
  Apply(Entry("d/kept"), 1);
  ext4::FsTree t = Finish();
  EXPECT_EQ(Lookup(t, "f"), -1);
  EXPECT_EQ(Lookup(t, "d/g"), -1);
  EXPECT_GE(Lookup(t, "d/h"), 0);
  EXPECT_GE(Lookup(t, "d/kept"), 0);
}

TEST_F(LayerTreeTest, OpaqueDirectoryHidesOnlyLowerContent) {
  Apply(Dir("d", 0700), 0);
  Apply(Entry("d/.wh..wh..opq"), 0);
  Apply(Entry("d/same-layer"), 0);
  Apply(Dir("d", 0755), 1);
  Apply(Entry("d/lower"), 1);
  Apply(Dir("d/sub"), 1);
  Apply(Entry("d/sub/deeper"), 1);
  ext4::FsTree t = Finish();
  int d = Lookup(t, "d");
  ASSERT_GE(d, 0);
  EXPECT_EQ(t.inodes[static_cast<size_t>(d)].mode & 07777, 0700);
  EXPECT_GE(Lookup(t, "d/same-layer"), 0);
  EXPECT_EQ(Lookup(t, "d/lower"), -1);
  EXPECT_EQ(Lookup(t, "d/sub"), -1);
}

TEST_F(LayerTreeTest, ImplicitDirectoryTakesMetadataFromTheTopmostExplicitEntry) {
  Apply(Entry("a/b/file"), 0);
  Apply(Dir("a", 0711), 1);
  Apply(Dir("a", 0700), 2);
  ext4::FsTree t = Finish();
  EXPECT_EQ(t.inodes[static_cast<size_t>(Lookup(t, "a"))].mode & 07777, 0711);
  EXPECT_EQ(t.inodes[static_cast<size_t>(Lookup(t, "a/b"))].mode & 07777, 0755);
}

TEST_F(LayerTreeTest, DirectoryRecreatedOverItsWhiteoutDropsLowerContent) {
  Apply(Entry(".wh.d"), 0);
  Apply(Dir("d", 0750), 0);
  Apply(Entry("d/new"), 0);
  Apply(Dir("d", 0755), 1);
  Apply(Entry("d/old"), 1);
  ext4::FsTree t = Finish();
  EXPECT_EQ(t.inodes[static_cast<size_t>(Lookup(t, "d"))].mode & 07777, 0750);
  EXPECT_GE(Lookup(t, "d/new"), 0);
  EXPECT_EQ(Lookup(t, "d/old"), -1);
}

TEST_F(LayerTreeTest, FileReplacingDirectoryHidesItsChildren) {
  Apply(Entry("x"), 0);
  Apply(Dir("x"), 1);
  Apply(Entry("x/child"), 1);
  ext4::FsTree t = Finish();
  int x = Lookup(t, "x");
  EXPECT_EQ(t.inodes[static_cast<size_t>(x)].mode & ext4::kModeTypeMask, ext4::kModeRegular);
}

TEST_F(LayerTreeTest, HardlinkToHiddenSameLayerTargetIsReadAgain) {
  Apply(Entry("orig"), 0);  // the upper replacement
  Apply(Dir("d"), 1);
  EXPECT_EQ(Apply(Entry("orig"), 1).action, LayerTree::DataAction::kNone);  // hidden
  LayerTree::Decision link = Apply(Link("link", "orig"), 1);
  ASSERT_NE(link.reread, nullptr);
  EXPECT_EQ(link.reread->layer_entry, 1u);                     // the second entry of layer 1
  EXPECT_EQ(Apply(Link("link2", "orig"), 1).reread, nullptr);  // already scheduled
  ext4::FsTree t = Finish();
  EXPECT_NE(Lookup(t, "link"), Lookup(t, "orig"));
  EXPECT_EQ(Lookup(t, "link"), Lookup(t, "link2"));
  EXPECT_EQ(t.inodes[static_cast<size_t>(Lookup(t, "link"))].links, 2u);
}

TEST_F(LayerTreeTest, HardlinkToLowerLayerResolvesWhenReached) {
  Apply(Link("upper-link", "base"), 0);
  EXPECT_EQ(Apply(Entry("base"), 1).action, LayerTree::DataAction::kStore);
  Apply(Link("base-link", "base"), 1);
  ext4::FsTree t = Finish();
  int base = Lookup(t, "base");
  EXPECT_EQ(Lookup(t, "upper-link"), base);
  EXPECT_EQ(Lookup(t, "base-link"), base);
  EXPECT_EQ(t.inodes[static_cast<size_t>(base)].links, 3u);
}

TEST_F(LayerTreeTest, HardlinkWhoseLowerTargetIsDeletedInBetweenFails) {
  Apply(Link("link", "target"), 0);
  EXPECT_FALSE(tree_.Apply(Entry(".wh.target"), 1).ok());
}

TEST_F(LayerTreeTest, DanglingHardlinkFailsAtTheEnd) {
  Apply(Link("link", "nowhere"), 0);
  EXPECT_FALSE(tree_.Finish().ok());
}

TEST_F(LayerTreeTest, LostAndFoundIsInodeElevenAndRootEntriesAreSorted) {
  Apply(Entry("z"), 0);
  Apply(Entry("a"), 0);
  ext4::FsTree t = Finish();
  EXPECT_EQ(Lookup(t, "lost+found"), 1);
  ASSERT_EQ(t.entries[0].size(), 3u);
  EXPECT_EQ(t.entries[0][0].name, "a");
  EXPECT_EQ(t.entries[0][1].name, "lost+found");
}

}  // namespace
}  // namespace lode::flatten
