// containerd's filter syntax, as `ctr snapshots ls` and containerd's own
// lookups send it in List requests: comma-separated selectors
// `FIELDPATH[OP VALUE]` that must all match (OP: == != ~=; no OP tests
// presence); field path parts may be quoted ("...", /.../, |...|), as may
// values. A request's several filters match when any one does.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace lode::snapshotter {

// What a filter asks of an object: the value at a field path, if present.
using FieldLookup = std::function<std::optional<std::string>(const std::vector<std::string>&)>;

class Filter {
 public:
  // An empty text matches everything.
  static Result<Filter> Parse(const std::string& text);
  bool Matches(const FieldLookup& lookup) const;

  struct Selector {
    enum class Op { kPresent, kEqual, kNotEqual, kMatches };
    std::vector<std::string> path;
    Op op = Op::kPresent;
    std::string value;
  };

 private:
  std::vector<Selector> selectors_;
};

// Any of `filters` matches (none: everything matches).
class FilterSet {
 public:
  static Result<FilterSet> Parse(const std::vector<std::string>& texts);
  bool Matches(const FieldLookup& lookup) const;

 private:
  std::vector<Filter> filters_;
};

}  // namespace lode::snapshotter
