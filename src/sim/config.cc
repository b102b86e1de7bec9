#include "sim/config.h"

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "cache/memcached_l2.h"
#include "sim/policies.h"
#include "util/size.h"

namespace lode::sim {
namespace {

using nlohmann::json;

// Reads the keys of one JSON object into fields; anything else is an error.
class Reader {
 public:
  using Field = std::function<void(const json& value)>;
  Reader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Reader& Number(const char* key, double& into) {
    return On(key, [&into, this, key](const json& v) {
      if (!v.is_number()) Fail(key, "a number");
      into = v.get<double>();
    });
  }
  template <typename Int>
  Reader& Integer(const char* key, Int& into) {
    return On(key, [&into, this, key](const json& v) {
      if (!v.is_number_unsigned()) Fail(key, "a non-negative integer");
      into = static_cast<Int>(v.get<uint64_t>());
    });
  }
  Reader& Bytes(const char* key, uint64_t& into) {
    return On(key, [&into, this, key](const json& v) {
      if (v.is_number_unsigned()) {
        into = v.get<uint64_t>();
        return;
      }
      Result<uint64_t> size = v.is_string() ? ParseSize(v.get<std::string>())
                                            : Result<uint64_t>(Status::InvalidArgument(""));
      if (!size.ok()) Fail(key, "a size (bytes, or like \"64GiB\")");
      into = *size;
    });
  }
  Reader& Boolean(const char* key, bool& into) {
    return On(key, [&into, this, key](const json& v) {
      if (!v.is_boolean()) Fail(key, "true or false");
      into = v.get<bool>();
    });
  }
  Reader& Text(const char* key, std::string& into) {
    return On(key, [&into, this, key](const json& v) {
      if (!v.is_string()) Fail(key, "a string");
      into = v.get<std::string>();
    });
  }
  Reader& On(const char* key, Field field) {
    fields_[key] = std::move(field);
    return *this;
  }
  // Applies the fields; throws InvalidArgument text for unknown keys.
  void Read() {
    if (!object_.is_object()) throw Error(where_ + " must be an object");
    for (const auto& [key, value] : object_.items()) {
      auto it = fields_.find(key);
      if (it == fields_.end()) throw Error("unknown key " + Path(key));
      it->second(value);
    }
  }
  std::string Path(const std::string& key) const {
    return where_.empty() ? key : where_ + "." + key;
  }

  struct Error {
    std::string message;
  };

 private:
  [[noreturn]] void Fail(const char* key, const char* what) {
    throw Error(Path(key) + " must be " + what);
  }

  const json& object_;
  std::string where_;
  std::map<std::string, Field> fields_;
};

void ReadLatency(const json& v, const std::string& where, LatencyShape& into) {
  Reader(v, where)
      .Number("median_ms", into.median_ms)
      .Number("tail_ms", into.tail_ms)
      .Number("tail_quantile", into.tail_quantile)
      .Number("slow_fraction", into.slow_fraction)
      .Number("slow_factor", into.slow_factor)
      .Read();
  if (!(into.median_ms > 0) || into.tail_ms < into.median_ms || !(into.tail_quantile > 0.5) ||
      !(into.tail_quantile < 1) || into.slow_fraction < 0 || into.slow_fraction > 1 ||
      into.slow_factor < 1) {
    throw Reader::Error{where +
                        " needs 0 < median_ms <= tail_ms, 0.5 < tail_quantile < 1, "
                        "slow_fraction in [0, 1], slow_factor >= 1"};
  }
}

void ReadTrace(const json& v, PaperTraceShape& t, AzureShape& azure,
               std::optional<BurstShape>& burst_if_chosen, std::string& base_images) {
  std::string generator = "paper";
  BurstShape burst;
  Reader(v, "trace")
      .Text("generator", generator)
      .Integer("seed", t.seed)
      .On("azure_days",
          [&azure](const json& days) {
            if (!days.is_array() || days.empty() ||
                !std::all_of(days.begin(), days.end(),
                             [](const json& d) { return d.is_string(); })) {
              throw Reader::Error{"trace.azure_days must be a list of files"};
            }
            azure.days = days.get<std::vector<std::string>>();
          })
      .Number("keep_alive_minutes", azure.keep_alive_minutes)
      .Number("invocation_seconds", azure.invocation_seconds)
      .Number("hours", t.hours)
      .Number("starts_per_second", t.starts_per_second)
      .Number("diurnal_amplitude", t.diurnal_amplitude)
      .Integer("functions", t.functions)
      .Integer("tenants", t.tenants)
      .Number("function_zipf", t.function_zipf)
      .Integer("bases", t.bases)
      .Text("base_images", base_images)
      .Number("base_zipf", t.base_zipf)
      .Integer("base_chunks_median", t.base_chunks_median)
      .Integer("max_image_chunks", t.max_image_chunks)
      .Number("read_fraction", t.read_fraction)
      .Number("own_read_fraction", t.own_read_fraction)
      .Number("small_unique_share", t.small_unique_share)
      .Number("redeploys_per_function_day", t.redeploys_per_function_day)
      .Number("redeploy_no_new_chunk", t.redeploy_no_new_chunk)
      .Number("redeploy_unique_median", t.redeploy_unique_median)
      .Number("scans_per_hour", t.scans_per_hour)
      .Integer("scan_chunks", t.scan_chunks)
      .Number("burst_peak_per_second", burst.peak_per_second)
      .Number("burst_ramp_seconds", burst.ramp_seconds)
      .Number("burst_hold_seconds", burst.hold_seconds)
      .Read();
  if (generator != "paper" && generator != "azure" && generator != "burst") {
    throw Reader::Error{"trace.generator: \"paper\", \"azure\" or \"burst\""};
  }
  bool burst_keys = v.contains("burst_peak_per_second") || v.contains("burst_ramp_seconds") ||
                    v.contains("burst_hold_seconds");
  if (burst_keys && generator != "burst") {
    throw Reader::Error{"trace: burst_* keys are for the burst generator"};
  }
  if (!base_images.empty() && v.contains("bases")) {
    throw Reader::Error{"trace: bases or base_images, not both"};
  }
  if (generator == "burst") {
    if (!(burst.peak_per_second > 0) || burst.ramp_seconds < 0 || burst.hold_seconds < 0 ||
        burst.peak_per_second * (burst.ramp_seconds + burst.hold_seconds) > 1e9) {
      throw Reader::Error{
          "trace: burst_peak_per_second must be positive, burst_ramp_seconds and "
          "burst_hold_seconds not negative (and at most a billion starts)"};
    }
    burst_if_chosen = burst;
  }
  if ((generator == "azure") != !azure.days.empty()) {
    throw Reader::Error{"trace: the azure generator takes azure_days, and only it"};
  }
  if (!(azure.keep_alive_minutes >= 0) || !(azure.invocation_seconds > 0)) {
    throw Reader::Error{
        "trace: keep_alive_minutes cannot be negative, invocation_seconds must be "
        "positive"};
  }
  if (!(t.hours > 0) || !(t.starts_per_second > 0) || t.functions == 0 || t.bases == 0 ||
      t.tenants == 0 || t.diurnal_amplitude < 0 || t.diurnal_amplitude > 1 ||
      !(t.read_fraction > 0) || t.read_fraction > 1 || !(t.own_read_fraction > 0) ||
      t.own_read_fraction > 1 || t.base_chunks_median == 0 || t.max_image_chunks < 16) {
    throw Reader::Error{
        "trace: hours, starts_per_second, functions, tenants, bases and "
        "base_chunks_median must be positive, diurnal_amplitude, read_fraction and "
        "own_read_fraction within [0, 1], max_image_chunks at least 16"};
  }
  if (!(t.scans_per_hour >= 0)) throw Reader::Error{"trace.scans_per_hour cannot be negative"};
}

void ReadL2(const json& v, SimConfig& c) {
  std::string code = std::to_string(c.l2_code.k) + "+" + std::to_string(c.l2_code.m);
  json events = json::array();
  Reader(v, "l2")
      .Integer("nodes", c.l2_nodes)
      .Bytes("node_bytes", c.l2_node_bytes)
      .Text("code", code)
      .Number("slow_factor", c.l2_slow_factor)
      .Number("hedge_ms", c.l2_hedge_ms)
      .On("events", [&events](const json& e) { events = e; })
      .Read();
  // 4+1, 4+2: Reed-Solomon; 1+1: two copies; 1+0: a single copy.
  Result<cache::ErasureCode> parsed = cache::ParseErasureCode(code);
  if (!parsed.ok()) throw Reader::Error{"l2.code: " + parsed.status().message()};
  c.l2_code = *parsed;
  if (c.l2_nodes < c.l2_code.total() || c.l2_nodes > 65535 || c.l2_code.total() > 64) {
    throw Reader::Error{"l2: needs at least k + m nodes (and at most 65535; k + m at most 64)"};
  }
  if (!events.is_array()) throw Reader::Error{"l2.events must be an array"};
  for (size_t i = 0; i < events.size(); ++i) {
    NodeEvent e;
    double every_hours = 0;
    std::string where = "l2.events[" + std::to_string(i) + "]";
    Reader(events[i], where)
        .Number("at_hours", e.at_hours)
        .Number("every_hours", every_hours)
        .On("node",
            [&e, &where](const json& node) {
              if (node == "all") {
                e.node = NodeEvent::kAll;
              } else if (node.is_number_unsigned()) {
                e.node = node.get<int>();
              } else {
                throw Reader::Error{where + ".node must be a node number or \"all\""};
              }
            })
        .Text("change", e.change)
        .Read();
    if (e.node != NodeEvent::kAll && (e.node < 0 || e.node >= c.l2_nodes)) {
      throw Reader::Error{where + ".node: no such node"};
    }
    if (e.change != "down" && e.change != "up" && e.change != "slow" && e.change != "restart") {
      throw Reader::Error{where + ".change: down, up, slow or restart"};
    }
    if (every_hours < 0 || (every_hours > 0 && e.node != NodeEvent::kAll)) {
      throw Reader::Error{where + ".every_hours: a positive interval, with \"node\": \"all\""};
    }
    if (every_hours == 0) {
      c.l2_events.push_back(e);
      continue;
    }
    // One node after another (a rolling restart).
    for (int node = 0; node < c.l2_nodes; ++node) {
      c.l2_events.push_back({e.at_hours + node * every_hours, node, e.change});
    }
  }
}

void ReadCurves(const json& v, CurvesConfig& curves) {
  std::vector<std::string> policies = PolicyNames();
  Reader(v, "curves")
      .Text("stream", curves.stream)
      .On("policies",
          [&policies](const json& p) {
            if (!p.is_array() || p.empty() ||
                !std::all_of(p.begin(), p.end(), [](const json& n) { return n.is_string(); })) {
              throw Reader::Error{"curves.policies must be a list of names"};
            }
            policies = p.get<std::vector<std::string>>();
          })
      .On("size_factors",
          [&curves](const json& f) {
            if (!f.is_array() || f.empty() || !std::all_of(f.begin(), f.end(), [](const json& x) {
                  return x.is_number() && x.get<double>() > 0;
                })) {
              throw Reader::Error{"curves.size_factors must be a list of positive numbers"};
            }
            curves.size_factors = f.get<std::vector<double>>();
          })
      .Read();
  if (curves.stream != "l1" && curves.stream != "l2") {
    throw Reader::Error{"curves.stream: \"l1\" (worker 0's) or \"l2\""};
  }
  for (const std::string& name : policies) {
    const std::vector<std::string>& known = PolicyNames();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw Reader::Error{"curves.policies: no policy " + name};
    }
  }
  curves.policies = policies;
}

void ReadSandboxes(const json& v, SandboxConfig& into) {
  Reader(v, "sandboxes")
      .Integer("slots", into.slots)
      .Number("keep_alive_s", into.keep_alive_s)
      .Number("invocation_s", into.invocation_s)
      .Read();
  if (into.keep_alive_s < 0 || !(into.invocation_s > 0)) {
    throw Reader::Error{"sandboxes needs keep_alive_s >= 0 and invocation_s > 0"};
  }
}

void ReadAdmission(const json& v, AdmissionConfig& into) {
  Reader(v, "admission").Integer("limit", into.limit).Number("timeout_ms", into.timeout_ms).Read();
  if (into.timeout_ms < 0) throw Reader::Error{"admission.timeout_ms cannot be negative"};
}

void ReadLatencies(const json& v, SimConfig& c) {
  Reader(v, "latency")
      .On("l1_memory", [&c](const json& l) { ReadLatency(l, "latency.l1_memory", c.l1_memory); })
      .On("l1_disk", [&c](const json& l) { ReadLatency(l, "latency.l1_disk", c.l1_disk); })
      .On("l2_stripe", [&c](const json& l) { ReadLatency(l, "latency.l2_stripe", c.l2_stripe); })
      .On("origin", [&c](const json& l) { ReadLatency(l, "latency.origin", c.origin); })
      .Read();
}

void ReadPrices(const json& v, SimConfig::Prices& p) {
  Reader(v, "prices")
      .Number("memory_gib_hour", p.memory_gib_hour)
      .Number("disk_gib_hour", p.disk_gib_hour)
      .Number("l2_read", p.l2_read)
      .Number("origin_read", p.origin_read)
      .Read();
  if (p.memory_gib_hour < 0 || p.disk_gib_hour < 0 || p.l2_read < 0 || p.origin_read < 0) {
    throw Reader::Error{"prices cannot be negative"};
  }
}

// The run's settings in `root` (no variants or claims) into `s`.
Status ReadSetup(const json& root, SimSetup& s) {
  SimConfig& c = s.fleet;
  try {
    Reader(root, "")
        .Integer("seed", c.seed)
        .On("trace",
            [&s](const json& v) {
              if (v.is_object() && v.contains("path")) {
                Reader(v, "trace").Text("path", s.trace_path).Read();
              } else {
                ReadTrace(v, s.trace, s.azure, s.burst, s.base_images_path);
              }
            })
        .Integer("workers", c.workers)
        .Text("placement", c.placement)
        .Integer("affinity_spread", c.affinity_spread)
        .On("sandboxes", [&c](const json& v) { ReadSandboxes(v, c.sandboxes); })
        .Integer("start_parallelism", c.start_parallelism)
        .On("admission", [&c](const json& v) { ReadAdmission(v, c.admission); })
        .On("l1",
            [&c](const json& v) {
              Reader(v, "l1")
                  .Bytes("memory_bytes", c.l1_memory_bytes)
                  .Bytes("disk_bytes", c.l1_disk_bytes)
                  .Integer("k", c.l1_k)
                  .Read();
            })
        .On("l2", [&c](const json& v) { ReadL2(v, c); })
        .On("latency", [&c](const json& v) { ReadLatencies(v, c); })
        .Number("salt_period_hours", c.salt_period_hours)
        .On("curves", [&c](const json& v) { ReadCurves(v, c.curves); })
        .Boolean("count_sharing", c.count_sharing)
        .Boolean("salt_per_tenant", c.salt_per_tenant)
        .Number("sampling_rate", c.sampling_rate)
        .Number("warmup_hours", c.warmup_hours)
        .Number("time_scale", c.time_scale)
        .On("prices", [&c](const json& v) { ReadPrices(v, c.prices); })
        .Read();
  } catch (const Reader::Error& e) {
    return Status::InvalidArgument(e.message);
  }
  if (c.workers < 1) return Status::InvalidArgument("workers must be at least 1");
  if (c.start_parallelism < 1) {
    return Status::InvalidArgument("start_parallelism must be at least 1");
  }
  if (c.l1_k < 1 || c.l1_k > cache::LruK::kMaxK) {
    return Status::InvalidArgument("l1.k must be between 1 and " +
                                   std::to_string(cache::LruK::kMaxK));
  }
  if (c.placement != "random" && c.placement != "affinity") {
    return Status::InvalidArgument("placement: random or affinity");
  }
  if (c.affinity_spread < 1 || c.affinity_spread > c.workers) {
    return Status::InvalidArgument("affinity_spread must be between 1 and workers");
  }
  if (!(c.time_scale > 0)) return Status::InvalidArgument("time_scale must be positive");
  if (!(c.sampling_rate > 0) || c.sampling_rate > 1) {
    return Status::InvalidArgument("sampling_rate must be in (0, 1]");
  }
  if (c.salt_period_hours < 0 || c.warmup_hours < 0) {
    return Status::InvalidArgument("salt_period_hours and warmup_hours cannot be negative");
  }
  if (root.contains("seed") && !(root.contains("trace") && root["trace"].contains("seed"))) {
    s.trace.seed = c.seed;  // one seed for both unless the trace has its own
  }
  return Status::Ok();
}

// Each variant is the base configuration with its keys patched in (JSON
// merge patch), on the base's trace unless it patches the trace too.
Status ReadVariants(const json& base, const json& variants, SimSetup& s) {
  if (!variants.is_array() || variants.empty()) {
    return Status::InvalidArgument("variants must be a non-empty array");
  }
  for (size_t i = 0; i < variants.size(); ++i) {
    std::string where = "variants[" + std::to_string(i) + "]";
    const json& v = variants[i];
    if (!v.is_object() || !v.contains("name") || !v["name"].is_string()) {
      return Status::InvalidArgument(where + " needs a name");
    }
    std::string name = v["name"];
    for (const NamedFleet& f : s.variants) {
      if (f.name == name) return Status::InvalidArgument(where + ": name " + name + " again");
    }
    json patch = v, merged = base;
    patch.erase("name");
    merged.merge_patch(patch);
    SimSetup one;
    Status read = ReadSetup(merged, one);
    if (!read.ok()) return Status::InvalidArgument(where + " (" + name + "): " + read.message());
    std::shared_ptr<const SimSetup> own_trace;
    if (v.contains("trace")) own_trace = std::make_shared<SimSetup>(one);
    s.variants.push_back({name, one.fleet, own_trace});
  }
  return Status::Ok();
}

}  // namespace

Result<SimSetup> ParseSimConfig(const std::string& json_text) {
  json root = json::parse(json_text, nullptr, false);
  if (root.is_discarded()) return Status::InvalidArgument("the configuration is not JSON");
  if (!root.is_object()) return Status::InvalidArgument("the configuration must be an object");
  json base = root;
  base.erase("variants");
  base.erase("claims");
  SimSetup s;
  LODE_RETURN_IF_ERROR(ReadSetup(base, s));
  if (root.contains("variants")) {
    LODE_RETURN_IF_ERROR(ReadVariants(base, root["variants"], s));
  } else {
    s.variants.push_back({"", s.fleet, nullptr});
  }
  if (root.contains("claims")) {
    std::vector<std::string> names;
    for (const NamedFleet& f : s.variants) names.push_back(f.name);
    LODE_ASSIGN_OR_RETURN(s.claims, ParseClaims(root["claims"], names));
  }
  return s;
}

}  // namespace lode::sim
