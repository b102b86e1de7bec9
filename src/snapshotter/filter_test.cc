#include "snapshotter/filter.h"

#include <gtest/gtest.h>

#include <map>

namespace lode::snapshotter {
namespace {

// An object with fields `fields` ("labels.a.b" style paths).
FieldLookup Object(std::map<std::string, std::string> fields) {
  return [fields](const std::vector<std::string>& path) -> std::optional<std::string> {
    std::string joined;
    for (const std::string& part : path) joined += (joined.empty() ? "" : ".") + part;
    auto it = fields.find(joined);
    if (it == fields.end()) return std::nullopt;
    return it->second;
  };
}

bool Matches(const std::string& text, const FieldLookup& object) {
  Result<Filter> filter = Filter::Parse(text);
  EXPECT_TRUE(filter.ok()) << text << ": " << filter.status().ToString();
  return filter.ok() && filter->Matches(object);
}

TEST(FilterTest, OperatorsPresenceAndConjunction) {
  FieldLookup o = Object({{"name", "foo"}, {"kind", "committed"}, {"labels.bar", ""}});
  EXPECT_TRUE(Matches("", o));
  EXPECT_TRUE(Matches("name==foo", o));
  EXPECT_FALSE(Matches("name==fo", o));
  EXPECT_TRUE(Matches("name!=bar", o));
  EXPECT_FALSE(Matches("name!=foo", o));
  EXPECT_TRUE(Matches("labels.bar", o));  // present, even empty
  EXPECT_FALSE(Matches("labels.baz", o));
  EXPECT_TRUE(Matches("labels.baz!=x", o));  // absent is "" for !=
  EXPECT_TRUE(Matches("name==foo,kind==committed", o));
  EXPECT_FALSE(Matches("name==foo,kind==active", o));
  EXPECT_TRUE(Matches(" name == foo , labels.bar ", o));
  EXPECT_TRUE(Matches("name~=^f.o$", o));
  EXPECT_TRUE(Matches("name~=o", o));  // a search, not a whole match
  EXPECT_FALSE(Matches("name~=^o", o));
}

TEST(FilterTest, QuotedFieldPathsAndValues) {
  FieldLookup o = Object({{"labels.containerd.io/snapshot.ref", "sha256:abc"},
                          {"parent", "default/3/sha256:def"},
                          {"labels.a b", "x,y"}});
  // What containerd's metadata sends to find a remote snapshot.
  EXPECT_TRUE(Matches(
      R"(labels."containerd.io/snapshot.ref"==sha256:abc,parent=="default/3/sha256:def")", o));
  EXPECT_FALSE(Matches(R"(labels."containerd.io/snapshot.ref"==sha256:abc,parent=="")", o));
  EXPECT_TRUE(Matches(R"(labels."a b"=="x,y")", o));
  EXPECT_TRUE(Matches(R"(labels."a b"~=/^x,/)", o));
  EXPECT_TRUE(Matches(R"(labels."a b"~=|y$|)", o));
  EXPECT_TRUE(Matches(R"(parent~=/default\/3/)", o));
}

TEST(FilterTest, MalformedFiltersAreRefusedWithThePosition) {
  for (const char* text : {"name=foo", "name==", ",name==a", "name==a,", "labels.\"open==x",
                           "9name==x", "name~=(", "name==\"\\q\""}) {
    Result<Filter> filter = Filter::Parse(text);
    ASSERT_FALSE(filter.ok()) << text;
    EXPECT_EQ(filter.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(filter.status().message().find(" at "), std::string::npos)
        << filter.status().message();
  }
}

TEST(FilterTest, AnyOfSeveralFilters) {
  FieldLookup o = Object({{"name", "foo"}});
  FilterSet none = *FilterSet::Parse({});
  EXPECT_TRUE(none.Matches(o));
  EXPECT_TRUE(FilterSet::Parse({"name==bar", "name==foo"})->Matches(o));
  EXPECT_FALSE(FilterSet::Parse({"name==bar", "name==baz"})->Matches(o));
  EXPECT_FALSE(FilterSet::Parse({"name==bar", "name="}).ok());
}

}  // namespace
}  // namespace lode::snapshotter
