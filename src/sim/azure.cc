#include "sim/azure.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <unordered_map>

#include "util/text.h"

namespace lode::sim {
namespace {

constexpr int kMinutesPerDay = 1440;
constexpr size_t kKeyColumns = 4;  // HashOwner, HashApp, HashFunction, Trigger

// A function's minutes with invocations: (minute of the trace, count).
using Minutes = std::vector<std::pair<uint32_t, uint32_t>>;

struct Functions {
  std::unordered_map<std::string, uint32_t> index;  // "owner/app/function"
  std::vector<std::string> names;                   // their keys, in order of appearance
  std::vector<Minutes> minutes;
};

Status ReadDay(const std::string& path, uint32_t day, Functions& functions) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no " + path);
  auto bad = [&path](size_t line, const std::string& why) {
    return Status::InvalidArgument(path + ":" + std::to_string(line) + ": " + why);
  };
  std::string line;
  if (!std::getline(in, line) || Split(line, ',').size() != kKeyColumns + kMinutesPerDay ||
      line.rfind("HashOwner,HashApp,HashFunction,Trigger,1,", 0) != 0) {
    return bad(1,
               "not an Azure Functions invocations_per_function file (HashOwner,HashApp,"
               "HashFunction,Trigger,1..1440)");
  }
  for (size_t n = 2; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields = Split(line, ',');
    if (fields.size() != kKeyColumns + kMinutesPerDay) {
      return bad(n, "needs " + std::to_string(kKeyColumns + kMinutesPerDay) + " columns");
    }
    std::string key = fields[0] + "/" + fields[1] + "/" + fields[2];
    auto [it, added] = functions.index.try_emplace(key, functions.names.size());
    if (added) {
      functions.names.push_back(key);
      functions.minutes.emplace_back();
    }
    Minutes& minutes = functions.minutes[it->second];
    for (int m = 0; m < kMinutesPerDay; ++m) {
      const std::string& field = fields[kKeyColumns + static_cast<size_t>(m)];
      char* end = nullptr;
      unsigned long count = std::strtoul(field.c_str(), &end, 10);
      if (field.empty() || *end != '\0') return bad(n, "an invocation count is not a number");
      if (count > 0) {
        minutes.emplace_back(day * kMinutesPerDay + static_cast<uint32_t>(m),
                             static_cast<uint32_t>(std::min<unsigned long>(count, UINT32_MAX)));
      }
    }
  }
  return Status::Ok();
}

// The keep-alive model: when each of a function's sandboxes starts.
void StartsOf(const Minutes& minutes, const AzureShape& azure, uint32_t function,
              std::mt19937_64& rng, std::vector<Start>& starts) {
  std::vector<double> last_used;  // per live sandbox, the minute it last ran
  for (auto [minute, count] : minutes) {
    size_t needed = static_cast<size_t>(std::ceil(count * azure.invocation_seconds / 60.0 - 1e-9));
    needed = std::max<size_t>(needed, 1);
    std::erase_if(last_used, [&](double used) { return minute - used > azure.keep_alive_minutes; });
    for (size_t i = last_used.size(); i < needed; ++i) {
      double at = minute * 60.0 + std::uniform_real_distribution<double>(0, 60)(rng);
      starts.push_back({at, function, function});
      last_used.push_back(minute);
    }
    for (size_t i = 0; i < needed; ++i) last_used[i] = minute;
  }
}

}  // namespace

Result<Trace> AzureTrace(const AzureShape& azure, PaperTraceShape images) {
  if (azure.days.empty()) return Status::InvalidArgument("no Azure Functions day files");
  Functions functions;
  for (size_t d = 0; d < azure.days.size(); ++d) {
    LODE_RETURN_IF_ERROR(ReadDay(azure.days[d], static_cast<uint32_t>(d), functions));
  }
  if (functions.names.empty()) return Status::InvalidArgument("the Azure files hold no function");
  images.functions = static_cast<uint32_t>(functions.names.size());
  images.tenants = 1;
  Trace trace = GeneratePaperImages(images);
  trace.functions = functions.names;
  // Each function is its owner's (HashOwner, the key's first part).
  std::unordered_map<std::string, uint32_t> owners;
  for (const std::string& name : functions.names) {
    std::string owner = name.substr(0, name.find('/'));
    auto [it, added] = owners.try_emplace(owner, static_cast<uint32_t>(trace.tenants.size()));
    if (added) trace.tenants.push_back(owner);
    trace.function_tenant.push_back(it->second);
  }
  std::mt19937_64 rng(images.seed);
  for (uint32_t f = 0; f < functions.minutes.size(); ++f) {
    StartsOf(functions.minutes[f], azure, f, rng, trace.starts);
  }
  std::stable_sort(trace.starts.begin(), trace.starts.end(),
                   [](const Start& a, const Start& b) { return a.time_s < b.time_s; });
  return trace;
}

}  // namespace lode::sim
