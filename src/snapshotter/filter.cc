#include "snapshotter/filter.h"

#include <cctype>
#include <regex>

namespace lode::snapshotter {
namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  Result<std::vector<Filter::Selector>> Selectors() {
    std::vector<Filter::Selector> selectors;
    while (true) {
      Result<Filter::Selector> selector = ParseSelector();
      if (!selector.ok()) return selector.status();
      selectors.push_back(std::move(*selector));
      SkipSpace();
      if (AtEnd()) return selectors;
      if (text_[pos_] != ',') return Error("expected ',' or the end");
      ++pos_;
    }
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace() {
    while (!AtEnd() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  Status Error(const std::string& what) const {
    return Status::InvalidArgument("filter \"" + text_ + "\" at " + std::to_string(pos_) + ": " +
                                   what);
  }
  static bool IsQuote(char c) { return c == '"' || c == '/' || c == '|'; }

  Result<Filter::Selector> ParseSelector() {
    Filter::Selector selector;
    while (true) {
      Result<std::string> field = ParseField();
      if (!field.ok()) return field.status();
      selector.path.push_back(std::move(*field));
      if (AtEnd() || text_[pos_] != '.') break;
      ++pos_;
    }
    SkipSpace();
    if (AtEnd() || text_[pos_] == ',') return selector;
    std::string op = text_.substr(pos_, 2);
    if (op == "==") {
      selector.op = Filter::Selector::Op::kEqual;
    } else if (op == "!=") {
      selector.op = Filter::Selector::Op::kNotEqual;
    } else if (op == "~=") {
      selector.op = Filter::Selector::Op::kMatches;
    } else {
      return Error("expected an operator (==, != or ~=)");
    }
    pos_ += 2;
    SkipSpace();
    Result<std::string> value = ParseValue();
    if (!value.ok()) return value.status();
    selector.value = std::move(*value);
    if (selector.op == Filter::Selector::Op::kMatches) {
      try {
        std::regex check(selector.value);
      } catch (const std::regex_error&) {
        return Error("not a regular expression: " + selector.value);
      }
    }
    return selector;
  }

  Result<std::string> ParseField() {
    SkipSpace();
    if (AtEnd()) return Error("expected a field");
    if (IsQuote(text_[pos_])) return ParseQuoted();
    if (!std::isalpha(static_cast<unsigned char>(text_[pos_]))) return Error("expected a field");
    size_t start = pos_;
    while (!AtEnd() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }

  Result<std::string> ParseValue() {
    if (AtEnd()) return Error("expected a value");
    if (IsQuote(text_[pos_])) return ParseQuoted();
    size_t start = pos_;
    while (!AtEnd() && text_[pos_] != ',' &&
           !std::isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
    if (pos_ == start) return Error("expected a value");
    return text_.substr(start, pos_ - start);
  }

  // "..." takes Go's escapes; /.../ and |...| keep backslashes (they quote
  // regular expressions) except before the closing character.
  Result<std::string> ParseQuoted() {
    char quote = text_[pos_++];
    std::string out;
    while (!AtEnd()) {
      char c = text_[pos_++];
      if (c == quote) return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (AtEnd()) break;
      char escaped = text_[pos_++];
      if (escaped == quote) {
        out += escaped;
      } else if (quote != '"') {
        out += '\\';
        out += escaped;
      } else {
        switch (escaped) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case '\\':
            out += '\\';
            break;
          default:
            return Error(std::string("unknown escape \\") + escaped);
        }
      }
    }
    return Error("quoted text not terminated");
  }

  const std::string& text_;
  size_t pos_ = 0;
};

bool SelectorMatches(const Filter::Selector& selector, const FieldLookup& lookup) {
  std::optional<std::string> value = lookup(selector.path);
  switch (selector.op) {
    case Filter::Selector::Op::kPresent:
      return value.has_value();
    case Filter::Selector::Op::kEqual:
      return value && *value == selector.value;
    case Filter::Selector::Op::kNotEqual:
      return value.value_or("") != selector.value;
    case Filter::Selector::Op::kMatches:
      return std::regex_search(value.value_or(""), std::regex(selector.value));
  }
  return false;
}

}  // namespace

Result<Filter> Filter::Parse(const std::string& text) {
  Filter filter;
  if (text.empty()) return filter;
  Result<std::vector<Selector>> selectors = Parser(text).Selectors();
  if (!selectors.ok()) return selectors.status();
  filter.selectors_ = std::move(*selectors);
  return filter;
}

bool Filter::Matches(const FieldLookup& lookup) const {
  for (const Selector& selector : selectors_) {
    if (!SelectorMatches(selector, lookup)) return false;
  }
  return true;
}

Result<FilterSet> FilterSet::Parse(const std::vector<std::string>& texts) {
  FilterSet set;
  for (const std::string& text : texts) {
    Result<Filter> filter = Filter::Parse(text);
    if (!filter.ok()) return filter.status();
    set.filters_.push_back(std::move(*filter));
  }
  return set;
}

bool FilterSet::Matches(const FieldLookup& lookup) const {
  if (filters_.empty()) return true;
  for (const Filter& filter : filters_) {
    if (filter.Matches(lookup)) return true;
  }
  return false;
}

}  // namespace lode::snapshotter
