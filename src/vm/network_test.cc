#include "vm/network.h"

#include <gtest/gtest.h>

namespace lode::vm {
namespace {

TEST(PublishedPortTest, TakesHostAndGuestPortsAndAnOptionalAddress) {
  Result<PublishedPort> p = ParsePublishedPort("8080:80");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->host_address, "0.0.0.0");
  EXPECT_EQ(p->host_port, 8080);
  EXPECT_EQ(p->guest_port, 80);
  p = ParsePublishedPort("127.0.0.1:65535:1");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->host_address, "127.0.0.1");
  EXPECT_EQ(p->host_port, 65535);
  EXPECT_EQ(p->guest_port, 1);
}

TEST(PublishedPortTest, RefusesWhatIsNotAPortMapping) {
  for (const char* bad : {"", "80", ":80", "80:", "0:80", "80:0", "65536:80", "8o:80", "80:80x",
                          "-1:80", "localhost:80:80", "1.2.3:80:80", ":80:80"}) {
    Result<PublishedPort> p = ParsePublishedPort(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.status().message().find("-p "), std::string::npos) << p.status().message();
  }
}

TEST(UserNetdevTest, ForwardsPublishedPortsButLeavesThemOutOfTheSignature) {
  std::vector<PublishedPort> ports = {{"127.0.0.1", 8080, 80}, {"0.0.0.0", 2222, 22}};
  EXPECT_EQ(UserNetdev("net", ports, false),
            "user,id=net,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:8080-:80,"
            "hostfwd=tcp:0.0.0.0:2222-:22");
  EXPECT_EQ(UserNetdev("net", ports, true), "user,id=net,net=10.0.2.0/24");
}

}  // namespace
}  // namespace lode::vm
