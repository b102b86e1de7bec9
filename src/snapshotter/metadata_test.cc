#include "snapshotter/metadata.h"

#include <gtest/gtest.h>

#include "testing/scratch_dir.h"

namespace lode::snapshotter {
namespace {

Status Nothing(Record&) { return Status::Ok(); }

Record Create(Metadata& m, Kind kind, const std::string& key, const std::string& parent,
              const Labels& labels = {}) {
  Record record;
  Status s = m.Create(kind, key, parent, labels, Nothing, &record);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return record;
}

TEST(MetadataTest, ChainsSurviveReopening) {
  testing::ScratchDir dir;
  {
    auto m = *Metadata::Open(dir / "m.db");
    Create(*m, Kind::kActive, "a", "");
    ASSERT_TRUE(m->Commit("a", "A", {{"k", "v"}}, {4096, 2}).ok());
    Create(*m, Kind::kActive, "b", "A");
    ASSERT_TRUE(m->Commit("b", "B", {}, {0, 1}).ok());
    Create(*m, Kind::kView, "v", "B", {{"x", "y"}});
  }
  auto m = *Metadata::Open(dir / "m.db");
  Record v = *m->Get("v");
  EXPECT_EQ(v.info.kind, Kind::kView);
  EXPECT_EQ(v.info.parent, "B");
  EXPECT_EQ(v.info.labels, (Labels{{"x", "y"}}));
  ASSERT_EQ(v.parent_ids.size(), 2u);
  Record a = *m->Get("A");
  EXPECT_EQ(v.parent_ids[1], a.id);
  EXPECT_EQ(a.usage.size, 4096);
  EXPECT_EQ(a.usage.inodes, 2);
  EXPECT_EQ(a.info.labels, (Labels{{"k", "v"}}));
  EXPECT_FALSE(m->Get("a").ok());  // committed under its new name
  EXPECT_EQ(m->List()->size(), 3u);
}

TEST(MetadataTest, ContainerdsErrorsForKeysParentsAndKinds) {
  testing::ScratchDir dir;
  auto m = *Metadata::Open(dir / "m.db");
  Record r;
  Create(*m, Kind::kActive, "a", "");
  EXPECT_EQ(m->Create(Kind::kActive, "a", "", {}, Nothing, &r).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(m->Create(Kind::kActive, "b", "nope", {}, Nothing, &r).code(), StatusCode::kNotFound);
  EXPECT_EQ(m->Create(Kind::kActive, "b", "a", {}, Nothing, &r).code(),
            StatusCode::kInvalidArgument);  // parent not committed
  EXPECT_EQ(m->Create(Kind::kActive, "", "", {}, Nothing, &r).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      m->Create(Kind::kActive, "big", "", {{"k", std::string(4096, 'v')}}, Nothing, &r).code(),
      StatusCode::kInvalidArgument);
  Create(*m, Kind::kView, "view", "");
  EXPECT_EQ(m->Commit("view", "V", {}, {}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(m->Commit("missing", "M", {}, {}).code(), StatusCode::kNotFound);
  ASSERT_TRUE(m->Commit("a", "A", {}, {}).ok());
  Create(*m, Kind::kActive, "c", "");
  EXPECT_EQ(m->Commit("c", "A", {}, {}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(m->Commit("A", "A2", {}, {}).code(), StatusCode::kFailedPrecondition);
  Create(*m, Kind::kActive, "child", "A");
  EXPECT_EQ(m->Remove("A").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(m->Remove("child").ok());
  EXPECT_TRUE(m->Remove("A").ok());
  EXPECT_EQ(m->Remove("A").status().code(), StatusCode::kNotFound);
}

TEST(MetadataTest, AFailureInsideCreateUndoesIt) {
  testing::ScratchDir dir;
  auto m = *Metadata::Open(dir / "m.db");
  Record r;
  int64_t failed_id = 0;
  Status s = m->Create(
      Kind::kActive, "a", "", {},
      [&](Record& record) {
        failed_id = record.id;
        return Status::IOError("disk full");
      },
      &r);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(m->Get("a").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(m->Ids()->empty());
  Record again = Create(*m, Kind::kActive, "a", "");
  EXPECT_GT(again.id, 0);
}

TEST(MetadataTest, IdsAreNeverReused) {
  testing::ScratchDir dir;
  auto m = *Metadata::Open(dir / "m.db");
  Record first = Create(*m, Kind::kActive, "a", "");
  ASSERT_TRUE(m->Remove("a").ok());
  Record second = Create(*m, Kind::kActive, "a", "");
  EXPECT_GT(second.id, first.id);  // a removed snapshot's directory may still be going
}

TEST(MetadataTest, UpdateReplacesOrEditsLabelsOnly) {
  testing::ScratchDir dir;
  auto m = *Metadata::Open(dir / "m.db");
  Record a = Create(*m, Kind::kActive, "a", "", {{"keep", "1"}, {"drop", "2"}});
  Info edit{"a", "", Kind::kActive, 0, 0, {{"new", "3"}, {"keep", "4"}}};
  Info one = *m->Update(edit, {"labels.new", "labels.drop"});
  EXPECT_EQ(one.labels, (Labels{{"keep", "1"}, {"new", "3"}}));
  EXPECT_GE(one.updated_ns, a.info.updated_ns);
  EXPECT_EQ(one.created_ns, a.info.created_ns);
  Info all = *m->Update(edit, {"labels"});
  EXPECT_EQ(all.labels, edit.labels);
  Info unmasked = *m->Update(Info{"a", "", Kind::kActive, 0, 0, {}}, {});
  EXPECT_TRUE(unmasked.labels.empty());
  EXPECT_EQ(m->Update(edit, {"parent"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m->Update(edit, {"name"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m->Update(Info{"zz", "", Kind::kActive, 0, 0, {}}, {}).status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(m->Get("a")->info.labels.empty());  // the refused updates changed nothing
}

}  // namespace
}  // namespace lode::snapshotter
