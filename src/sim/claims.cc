#include "sim/claims.h"

#include <algorithm>
#include <cmath>

namespace lode::sim {
namespace {

using nlohmann::json;

std::optional<double> NumberAt(const json& claim, const char* key) {
  if (!claim.contains(key)) return std::nullopt;
  if (!claim[key].is_number()) throw std::invalid_argument(std::string(key) + " must be a number");
  return claim[key].get<double>();
}

std::string TextAt(const json& claim, const char* key, bool required) {
  if (!claim.contains(key)) {
    if (required) throw std::invalid_argument(std::string("needs ") + key);
    return "";
  }
  if (!claim[key].is_string()) throw std::invalid_argument(std::string(key) + " must be a string");
  return claim[key];
}

}  // namespace

Result<std::vector<Claim>> ParseClaims(const json& claims,
                                       const std::vector<std::string>& variants) {
  if (!claims.is_array()) return Status::InvalidArgument("claims must be an array");
  std::vector<Claim> out;
  static const char* kKeys[] = {"claim",          "source", "variant",   "metric",  "compare_to",
                                "compare_metric", "expect", "tolerance", "at_most", "at_least"};
  for (size_t i = 0; i < claims.size(); ++i) {
    const json& c = claims[i];
    std::string where = "claims[" + std::to_string(i) + "]";
    try {
      if (!c.is_object()) throw std::invalid_argument("must be an object");
      for (const auto& [key, value] : c.items()) {
        if (std::find_if(std::begin(kKeys), std::end(kKeys),
                         [&key](const char* k) { return key == k; }) == std::end(kKeys)) {
          throw std::invalid_argument("unknown key " + key);
        }
      }
      Claim claim{TextAt(c, "claim", true),       TextAt(c, "source", false),
                  TextAt(c, "variant", false),    TextAt(c, "metric", true),
                  TextAt(c, "compare_to", false), TextAt(c, "compare_metric", false),
                  NumberAt(c, "expect"),          NumberAt(c, "tolerance"),
                  NumberAt(c, "at_most"),         NumberAt(c, "at_least")};
      json::json_pointer(claim.metric);  // throws when malformed
      if (!claim.compare_metric.empty()) json::json_pointer{claim.compare_metric};
      auto known = [&variants](const std::string& v) {
        return std::find(variants.begin(), variants.end(), v) != variants.end();
      };
      if (!known(claim.variant)) {
        throw std::invalid_argument("no variant named '" + claim.variant + "'");
      }
      if (c.contains("compare_to") && !known(claim.compare_to)) {
        throw std::invalid_argument("no variant named '" + claim.compare_to + "'");
      }
      if (claim.expect.has_value() != claim.tolerance.has_value() ||
          (!claim.expect && !claim.at_most && !claim.at_least)) {
        throw std::invalid_argument("needs expect with tolerance, at_most or at_least");
      }
      out.push_back(std::move(claim));
    } catch (const std::exception& e) {
      return Status::InvalidArgument(where + ": " + e.what());
    }
  }
  return out;
}

json CheckClaims(const std::vector<Claim>& claims, const std::map<std::string, json>& results) {
  json table = json::array();
  for (const Claim& c : claims) {
    json row = {{"claim", c.claim}, {"source", c.source}, {"metric", c.metric}};
    if (!c.variant.empty()) row["variant"] = c.variant;
    if (!c.compare_to.empty()) row["compare_to"] = c.compare_to;
    if (c.expect) {
      row["expect"] = *c.expect;
      row["tolerance"] = *c.tolerance;
    }
    if (c.at_most) row["at_most"] = *c.at_most;
    if (c.at_least) row["at_least"] = *c.at_least;
    if (!c.compare_metric.empty()) row["compare_metric"] = c.compare_metric;
    auto number = [&](const std::string& variant,
                      const std::string& metric) -> std::optional<double> {
      json::json_pointer pointer(metric);
      const json& result = results.at(variant);
      if (!result.contains(pointer) || !result[pointer].is_number()) return std::nullopt;
      return result[pointer].get<double>();
    };
    std::optional<double> value = number(c.variant, c.metric);
    if (value && (!c.compare_to.empty() || !c.compare_metric.empty())) {
      std::optional<double> other = number(c.compare_to.empty() ? c.variant : c.compare_to,
                                           c.compare_metric.empty() ? c.metric : c.compare_metric);
      value = other ? std::optional<double>(*value - *other) : std::nullopt;
    }
    bool pass = false;
    if (value) {
      double v = *value;
      row["value"] = v;
      pass = (!c.expect || std::fabs(v - *c.expect) <= *c.tolerance) &&
             (!c.at_most || v <= *c.at_most) && (!c.at_least || v >= *c.at_least);
    } else {
      row["value"] = nullptr;
    }
    row["pass"] = pass;
    table.push_back(row);
  }
  return table;
}

}  // namespace lode::sim
