#include "catalog/function.h"

#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "testing/scratch_dir.h"

namespace lode::catalog {
namespace {

FunctionConfig Hello() {
  FunctionConfig f;
  f.name = "hello";
  f.tenant = "a";
  f.image = "app";
  f.handler = "index.handler";
  f.memory_mib = 256;
  f.timeout_seconds = 5;
  f.environment = {{"GREETING", "hi"}};
  f.updated = 1795000000;
  return f;
}

TEST(FunctionTest, EncodesAndDecodes) {
  FunctionConfig f = Hello();
  Result<FunctionConfig> back = DecodeFunction(EncodeFunction(f));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "hello");
  EXPECT_EQ(back->handler, "index.handler");
  EXPECT_EQ(back->memory_mib, 256u);
  EXPECT_EQ(back->timeout_seconds, 5u);
  EXPECT_EQ(back->environment.at("GREETING"), "hi");
  EXPECT_EQ(back->network, "default");
  EXPECT_EQ(back->updated, 1795000000);
  EXPECT_EQ(EncodeFunction(*back), EncodeFunction(f));
}

TEST(FunctionTest, DecodeRefusesWhatCreateWould) {
  EXPECT_EQ(DecodeFunction("[]").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeFunction("{\"format\": 1}").status().code(), StatusCode::kCorruption);
  std::string good = EncodeFunction(Hello());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  EXPECT_FALSE(DecodeFunction(with("\"format\":1", "\"format\":2")).ok());
  EXPECT_FALSE(DecodeFunction(with("\"memory_mib\":256", "\"memory_mib\":1e40")).ok());
  EXPECT_FALSE(DecodeFunction(with("\"memory_mib\":256", "\"memory_mib\":64")).ok());
  EXPECT_FALSE(DecodeFunction(with("\"timeout_seconds\":5", "\"timeout_seconds\":901")).ok());
  EXPECT_FALSE(DecodeFunction(with("\"network\":\"default\"", "\"network\":\"host\"")).ok());
  EXPECT_FALSE(DecodeFunction(with("\"GREETING\"", "\"AWS_REGION\"")).ok());
}

TEST(FunctionTest, ValidatesNamesAndEnvironment) {
  EXPECT_TRUE(ValidateFunctionName("my-func_2").ok());
  EXPECT_FALSE(ValidateFunctionName("").ok());
  EXPECT_FALSE(ValidateFunctionName("a.b").ok());
  EXPECT_FALSE(ValidateFunctionName("a/b").ok());
  EXPECT_FALSE(ValidateFunctionName(std::string(65, 'a')).ok());
  FunctionConfig f = Hello();
  f.environment = {{"1X", "v"}};
  EXPECT_FALSE(ValidateFunction(f).ok());
  f.environment = {{"AWS_LAMBDA_RUNTIME_API", "evil:1"}};
  EXPECT_NE(ValidateFunction(f).message().find("set by the host"), std::string::npos);
  f.environment = {{"BIG", std::string(5000, 'x')}};
  EXPECT_FALSE(ValidateFunction(f).ok());
}

TEST(FunctionTest, SealedToTheTenantAndBoundToItsName) {
  testing::ScratchDir dir;
  auto store = store::OpenStore("dir://" + dir / "store");
  auto keys = keys::OpenLocalKeyService(dir / "keys");
  ASSERT_TRUE(store.ok() && keys.ok());
  ASSERT_TRUE((*keys)->CreateTenant("a").ok());
  ASSERT_TRUE((*keys)->CreateTenant("b").ok());
  EXPECT_FALSE(*GetFunction(**store, **keys, "a", "hello"));  // none yet
  ASSERT_TRUE(PutFunction(**store, **keys, Hello()).ok());
  Result<std::optional<FunctionConfig>> got = GetFunction(**store, **keys, "a", "hello");
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->image, "app");
  EXPECT_EQ(*ListFunctions(**store, "a"), std::vector<std::string>{"hello"});
  EXPECT_TRUE(ListFunctions(**store, "b")->empty());

  // Another tenant's copy does not open; a copy under another name opens
  // but says what it is.
  std::vector<uint8_t> sealed = *(*store)->Get(store::FunctionKey("a", "hello"));
  ASSERT_TRUE((*store)->Put(store::FunctionKey("b", "hello"), sealed).ok());
  EXPECT_EQ(GetFunction(**store, **keys, "b", "hello").status().code(), StatusCode::kCorruption);
  ASSERT_TRUE((*store)->Put(store::FunctionKey("a", "other"), sealed).ok());
  EXPECT_EQ(GetFunction(**store, **keys, "a", "other").status().code(), StatusCode::kCorruption);
  sealed[sealed.size() / 2] ^= 1;
  ASSERT_TRUE((*store)->Put(store::FunctionKey("a", "hello"), sealed).ok());
  EXPECT_EQ(GetFunction(**store, **keys, "a", "hello").status().code(), StatusCode::kCorruption);

  EXPECT_TRUE(DeleteFunction(**store, "a", "hello").ok());
  EXPECT_EQ(DeleteFunction(**store, "a", "hello").code(), StatusCode::kNotFound);
  EXPECT_FALSE(*GetFunction(**store, **keys, "a", "hello"));
}

}  // namespace
}  // namespace lode::catalog
