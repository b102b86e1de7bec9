#include "sim/trace_files.h"

#include <gtest/gtest.h>

#include "sim/generator.h"
#include "sim/simulator.h"
#include "testing/files.h"
#include "testing/scratch_dir.h"

namespace lode::sim {
namespace {

TEST(TraceFilesTest, AWrittenTraceReadsBackAndReplaysTheSame) {
  testing::ScratchDir dir("lode-sim-trace");
  PaperTraceShape shape;
  shape.hours = 2;
  shape.functions = 300;
  shape.tenants = 3;
  shape.starts_per_second = 1;
  Trace generated = GeneratePaperTrace(shape);
  ASSERT_TRUE(WriteTrace(generated, dir / "t").ok());
  Result<Trace> read = ReadTrace(dir / "t");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->starts.size(), generated.starts.size());
  EXPECT_EQ(read->images.size(), generated.images.size());
  EXPECT_EQ(read->chunk_bytes, generated.chunk_bytes);
  for (size_t i = 0; i < generated.starts.size(); ++i) {
    EXPECT_EQ(read->starts[i].time_s, generated.starts[i].time_s);
    EXPECT_EQ(read->images[read->starts[i].image].start_set,
              generated.images[generated.starts[i].image].start_set);
    EXPECT_EQ(read->functions[read->starts[i].function],
              generated.functions[generated.starts[i].function]);
    EXPECT_EQ(TenantOf(*read, read->starts[i].function),
              TenantOf(generated, generated.starts[i].function));
  }
  SimConfig c;
  c.workers = 5;
  c.l2_nodes = 5;
  SimResult a = Simulate(generated, c), b = Simulate(*read, c);
  EXPECT_EQ(a.all.l1, b.all.l1);
  EXPECT_EQ(a.all.origin, b.all.origin);
}

TEST(TraceFilesTest, MistakesNameTheFileAndLine) {
  testing::ScratchDir dir("lode-sim-trace");
  auto write = [&](const std::string& images, const std::string& starts) {
    testing::WriteAll(dir / "trace.json", R"({"lode_sim_trace": 1, "chunk_bytes": 524288})");
    testing::WriteAll(dir / "images.jsonl", images);
    testing::WriteAll(dir / "starts.csv", starts);
    return ReadTrace(dir.path()).status().message();
  };
  std::string good_image = R"({"name": "a", "chunks": 10, "start_set": [1, 2]})"
                           "\n";
  EXPECT_EQ(write(good_image, "time_s,function,image\n0.5,f,a\n"), "");
  EXPECT_NE(write("{\"name\": \"a\"}\n", "time_s,function,image\n").find("images.jsonl:1:"),
            std::string::npos);
  EXPECT_NE(write(good_image + good_image, "time_s,function,image\n").find("image a again"),
            std::string::npos);
  EXPECT_NE(write(good_image, "time,fn,img\n").find("starts.csv:1: the header"), std::string::npos);
  EXPECT_NE(write(good_image, "time_s,function,image\n1,f,a\n0.5,f,a\n").find("starts.csv:3:"),
            std::string::npos);
  EXPECT_NE(write(good_image, "time_s,function,image\nsoon,f,a\n").find("time_s"),
            std::string::npos);
  EXPECT_NE(write(good_image, "time_s,function,image\n1,f,b\n").find("no image b"),
            std::string::npos);
  EXPECT_EQ(write(good_image, "time_s,function,image,tenant\n0.5,f,a,acme\n1,g,a,beta\n"), "");
  EXPECT_NE(write(good_image, "time_s,function,image,tenant\n0.5,f,a,acme\n1,f,a,beta\n")
                .find("function f of two tenants"),
            std::string::npos);
  EXPECT_NE(write(good_image, "time_s,function,image,tenant\n0.5,f,a\n").find("starts.csv:2:"),
            std::string::npos);
  testing::WriteAll(dir / "trace.json", R"({"chunk_bytes": 0})");
  EXPECT_NE(ReadTrace(dir.path()).status().message().find("not a lode sim trace"),
            std::string::npos);
}

// Images recorded from real ones become the bases of a generated trace:
// every function's image starts with one of their start sets.
TEST(TraceFilesTest, RecordedImagesAreTheBasesOfAGeneratedTrace) {
  testing::ScratchDir dir("lode-sim-images");
  std::vector<Image> real = {{"debian", 100, {900001, 900002, 900003}},
                             {"python", 200, {900001, 900004}}};
  testing::WriteAll(dir / "images.jsonl", ImageLine(real[0]) + "\n" + ImageLine(real[1]) + "\n");
  Result<std::vector<Image>> read = ReadImages(dir / "images.jsonl");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[1].start_set, real[1].start_set);
  PaperTraceShape shape;
  shape.functions = 50;
  shape.hours = 0.1;
  shape.base_images = *read;
  Trace t = GeneratePaperTrace(shape);
  ASSERT_EQ(t.images.size(), 50u);
  for (const Image& image : t.images) {
    bool on_a_base =
        std::equal(real[0].start_set.begin(), real[0].start_set.end(), image.start_set.begin()) ||
        std::equal(real[1].start_set.begin(), real[1].start_set.end(), image.start_set.begin());
    EXPECT_TRUE(on_a_base) << image.name;
  }
  testing::WriteAll(dir / "empty.jsonl", "");
  EXPECT_FALSE(ReadImages(dir / "empty.jsonl").ok());
}

}  // namespace
}  // namespace lode::sim
