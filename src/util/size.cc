#include "util/size.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace lode {

Result<uint64_t> ParseSize(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.'))
    ++pos;
  if (pos == 0) return Status::InvalidArgument("not a size: '" + text + "'");
  double number = 0;
  try {
    number = std::stod(text.substr(0, pos));
  } catch (...) {
    return Status::InvalidArgument("not a size: '" + text + "'");
  }
  std::string unit = text.substr(pos);
  if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  static const struct {
    const char* name;
    double factor;
  } kUnits[] = {{"", 1},
                {"B", 1},
                {"K", 1024.0},
                {"KiB", 1024.0},
                {"KB", 1e3},
                {"M", 1048576.0},
                {"MiB", 1048576.0},
                {"MB", 1e6},
                {"G", 1073741824.0},
                {"GiB", 1073741824.0},
                {"GB", 1e9},
                {"T", 1099511627776.0},
                {"TiB", 1099511627776.0},
                {"TB", 1e12}};
  for (const auto& u : kUnits) {
    if (unit == u.name) {
      double bytes = std::round(number * u.factor);
      if (bytes > 1.8e19) return Status::InvalidArgument("size too large: '" + text + "'");
      return static_cast<uint64_t>(bytes);
    }
  }
  return Status::InvalidArgument("unknown size unit in '" + text + "'");
}

std::string FormatSize(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace lode
