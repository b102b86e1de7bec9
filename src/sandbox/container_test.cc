#include "sandbox/container.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/scratch_dir.h"

namespace lode::sandbox {
namespace {

class ProcessFromConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(root_ / "etc");
    std::ofstream(root_ / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                           "app:x:1000:1001::/home/app:/bin/sh\n";
    std::ofstream(root_ / "etc/group") << "root:x:0:\nstaff:x:50:\n";
  }
  testing::ScratchDir root_{"lode-rootfs"};
};

TEST_F(ProcessFromConfigTest, EntrypointAndCmdEnvDirAndNamedUser) {
  auto p = ProcessFromConfig(
      R"({"entrypoint":["/bin/app"],"cmd":["--serve"],"env":["A=1"],"working_dir":"/srv","user":"app"})",
      {}, root_.path());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->args, (std::vector<std::string>{"/bin/app", "--serve"}));
  EXPECT_EQ(p->env[0], "A=1");
  EXPECT_EQ(p->env[1].rfind("PATH=", 0), 0u);  // a default PATH is added
  EXPECT_EQ(p->cwd, "/srv");
  EXPECT_EQ(p->uid, 1000u);
  EXPECT_EQ(p->gid, 1001u);
}

TEST_F(ProcessFromConfigTest, CommandReplacesEntrypointAndCmd) {
  auto p = ProcessFromConfig(R"({"entrypoint":["/bin/app"],"cmd":["x"],"env":["PATH=/x"]})",
                             {"sh", "-c", "true"}, root_.path());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->args, (std::vector<std::string>{"sh", "-c", "true"}));
  EXPECT_EQ(p->env, (std::vector<std::string>{"PATH=/x"}));
  EXPECT_EQ(p->cwd, "/");
}

TEST_F(ProcessFromConfigTest, NumericAndGroupForms) {
  EXPECT_EQ(ProcessFromConfig(R"({"cmd":["a"],"user":"7:8"})", {}, root_.path())->gid, 8u);
  auto named_group = ProcessFromConfig(R"({"cmd":["a"],"user":"app:staff"})", {}, root_.path());
  EXPECT_EQ(named_group->uid, 1000u);
  EXPECT_EQ(named_group->gid, 50u);
}

TEST_F(ProcessFromConfigTest, BadConfigsAreErrors) {
  EXPECT_FALSE(ProcessFromConfig(R"({"cmd":["a"],"user":"nobody-here"})", {}, root_.path()).ok());
  EXPECT_FALSE(ProcessFromConfig(R"({"cmd":["a"],"user":"app:nogroup"})", {}, root_.path()).ok());
  EXPECT_FALSE(ProcessFromConfig(R"({})", {}, root_.path()).ok());  // nothing to run
  EXPECT_FALSE(ProcessFromConfig("not json", {"a"}, root_.path()).ok());
  EXPECT_FALSE(ParseRuntime("docker").ok());
}

}  // namespace
}  // namespace lode::sandbox
