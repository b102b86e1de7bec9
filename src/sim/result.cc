#include "sim/result.h"

#include <algorithm>
#include <cmath>

namespace lode::sim {
namespace {

using nlohmann::json;

json Shares(const TierCounts& t) {
  double total = static_cast<double>(std::max<uint64_t>(1, t.total()));
  return {{"reads", t.total()},
          {"l1", t.l1 / total},
          {"l2", t.l2 / total},
          {"origin", t.origin / total}};
}

json Quantiles(const Distribution& d) { return {{"p50", d.p50}, {"p99", d.p99}, {"p999", d.p999}}; }

json Cdf(const Distribution& d) {
  json points = json::array();
  for (auto [ms, fraction] : d.cdf) points.push_back({ms, fraction});
  return points;
}

// Where the trace came from: its file, or what it was generated with.
json TraceJson(const SimSetup& setup) {
  if (!setup.trace_path.empty()) return {{"path", setup.trace_path}};
  if (!setup.azure.days.empty()) {
    return {{"generator", "azure"},
            {"azure_days", setup.azure.days},
            {"keep_alive_minutes", setup.azure.keep_alive_minutes},
            {"invocation_seconds", setup.azure.invocation_seconds},
            {"seed", setup.trace.seed}};
  }
  const PaperTraceShape& t = setup.trace;
  if (setup.burst) {
    return {{"generator", "burst"},
            {"seed", t.seed},
            {"burst_peak_per_second", setup.burst->peak_per_second},
            {"burst_ramp_seconds", setup.burst->ramp_seconds},
            {"burst_hold_seconds", setup.burst->hold_seconds},
            {"base_chunks_median", t.base_chunks_median},
            {"read_fraction", t.read_fraction},
            {"own_read_fraction", t.own_read_fraction}};
  }
  return {{"generator", "paper"},
          {"base_images", setup.base_images_path},
          {"seed", t.seed},
          {"hours", t.hours},
          {"starts_per_second", t.starts_per_second},
          {"functions", t.functions},
          {"tenants", t.tenants},
          {"bases", t.bases},
          {"read_fraction", t.read_fraction},
          {"own_read_fraction", t.own_read_fraction}};
}

// The five-minute rule's two sides, per hour after warm-up: the memory
// and disk the fleet holds, and the reads that miss down to L2 and origin
// (scaled back up from the sample).
json Cost(const SimConfig& c, const SimResult& r) {
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  double hours = std::max(1e-9, static_cast<double>(r.hours.size()) - c.warmup_hours);
  double holding = c.workers * (c.l1_memory_bytes / kGiB * c.prices.memory_gib_hour +
                                c.l1_disk_bytes / kGiB * c.prices.disk_gib_hour) +
                   c.l2_nodes * (c.l2_node_bytes / kGiB) * c.prices.memory_gib_hour;
  double reloading =
      (r.after_warmup.l2 * c.prices.l2_read + r.after_warmup.origin * c.prices.origin_read) /
      c.sampling_rate / hours;
  return {{"holding_per_hour", holding},
          {"reloading_per_hour", reloading},
          {"total_per_hour", holding + reloading}};
}

// Each tier's median share over the hours after warm-up (the paper's
// figures are medians over a week), hours with reads only.
json MedianHour(const SimConfig& c, const SimResult& r) {
  std::vector<double> l1, l2, origin;
  for (size_t h = static_cast<size_t>(std::ceil(c.warmup_hours)); h < r.hours.size(); ++h) {
    const TierCounts& t = r.hours[h];
    if (t.total() == 0) continue;
    double total = static_cast<double>(t.total());
    l1.push_back(t.l1 / total);
    l2.push_back(t.l2 / total);
    origin.push_back(t.origin / total);
  }
  auto median = [](std::vector<double>& v) {
    if (v.empty()) return 0.0;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  return {{"hours", l1.size()}, {"l1", median(l1)}, {"l2", median(l2)}, {"origin", median(origin)}};
}

// The origin's side, scaled back up from the sample: the GETs it served,
// the busiest second, and GETs per minute (the flood after an emptied L2).
json OriginJson(const SimConfig& c, const OriginCounts& o) {
  json per_minute = json::array();
  for (uint64_t n : o.gets_per_minute) per_minute.push_back(n / c.sampling_rate);
  return {{"gets", o.gets / c.sampling_rate},
          {"peak_gets_per_second", o.peak_gets_per_second / c.sampling_rate},
          {"gets_per_minute", per_minute},
          {"admission_waited", o.waited},
          {"admission_rejected", o.rejected},
          {"peak_in_flight_per_worker", o.peak_in_flight}};
}

// Each node's busiest second, scaled back up from the sample, and the
// hottest node's in Gb/s (to hold against its network card).
json PeakEgressJson(const SimConfig& c, const SimResult& r) {
  json per_node = json::array();
  double hottest = 0;
  for (uint64_t bytes : r.l2_peak_egress_per_second) {
    per_node.push_back(bytes / c.sampling_rate);
    hottest = std::max(hottest, bytes / c.sampling_rate);
  }
  return {{"bytes_per_second", per_node}, {"hottest_node_gbps", hottest * 8 / 1e9}};
}

// What salts cost and buy: keys stored per content read, and how many
// images one chunk key serves (the images a bad chunk would break).
json SharingJson(const SimConfig& c, const SimResult::Sharing& s) {
  if (!c.count_sharing) return nullptr;
  double keys = static_cast<double>(s.keys);
  return {{"keys", keys / c.sampling_rate},
          {"contents", s.contents / c.sampling_rate},
          {"keys_per_content", s.contents ? keys / static_cast<double>(s.contents) : 0.0},
          {"max_images_per_key", s.max_images_per_key},
          {"mean_images_per_key", s.keys ? static_cast<double>(s.key_images) / keys : 0.0}};
}

json CurvesJson(const std::optional<Curves>& curves) {
  if (!curves) return nullptr;
  json policies = json::object();
  for (const auto& [name, points] : curves->policies) {
    json list = json::array();
    for (auto [bytes, ratio] : points) list.push_back({bytes, ratio});
    policies[name] = list;
  }
  return {{"stream", curves->stream},
          {"configured_bytes", curves->configured_bytes},
          {"break_even_seconds", curves->break_even_seconds},
          {"five_minute_bytes", curves->five_minute_bytes},
          {"miss_ratio", policies}};
}

}  // namespace

json ResultJson(const SimSetup& setup, const SimConfig& c, const SimResult& r) {
  json hours = json::array();
  for (size_t h = 0; h < r.hours.size(); ++h) {
    json one = Shares(r.hours[h]);
    one["hour"] = h;
    uint64_t asked_l2 = r.hours[h].l2 + r.hours[h].origin;
    one["l2_hit_ratio"] = asked_l2 ? static_cast<double>(r.hours[h].l2) / asked_l2 : 0.0;
    hours.push_back(one);
  }
  return {{"config",
           {{"seed", c.seed},
            {"workers", c.workers},
            {"placement", c.placement},
            {"affinity_spread", c.affinity_spread},
            {"start_parallelism", c.start_parallelism},
            {"admission", {{"limit", c.admission.limit}, {"timeout_ms", c.admission.timeout_ms}}},
            {"sandboxes",
             {{"slots", c.sandboxes.slots},
              {"keep_alive_s", c.sandboxes.keep_alive_s},
              {"invocation_s", c.sandboxes.invocation_s}}},
            {"l1_memory_bytes", c.l1_memory_bytes},
            {"l1_disk_bytes", c.l1_disk_bytes},
            {"l1_k", c.l1_k},
            {"l2_nodes", c.l2_nodes},
            {"l2_node_bytes", c.l2_node_bytes},
            {"l2_code", std::to_string(c.l2_code.k) + "+" + std::to_string(c.l2_code.m)},
            {"l2_hedge_ms", c.l2_hedge_ms},
            {"salt_period_hours", c.salt_period_hours},
            {"count_sharing", c.count_sharing},
            {"salt_per_tenant", c.salt_per_tenant},
            {"sampling_rate", c.sampling_rate},
            {"warmup_hours", c.warmup_hours},
            {"time_scale", c.time_scale},
            {"trace", TraceJson(setup)}}},
          {"invocations", r.invocations},
          {"warm", r.warm},
          {"starts", r.starts},
          {"spilled", r.spilled},
          {"refused", r.refused},
          {"peak_sandboxes", r.peak_sandboxes},
          {"failed_starts", r.failed_starts},
          {"trace_reads", r.trace_reads},
          {"reads", r.accesses},
          {"tiers", Shares(r.all)},
          {"tiers_after_warmup", Shares(r.after_warmup)},
          {"tiers_median_hour", MedianHour(c, r)},
          {"hours", hours},
          {"cost", Cost(c, r)},
          {"latency_ms",
           {{"l1", Quantiles(r.l1_ms)},
            {"l2", Quantiles(r.l2_ms)},
            {"origin", Quantiles(r.origin_ms)},
            {"start_fetch", Quantiles(r.start_fetch_ms)}}},
          {"latency_cdf",
           {{"l1", Cdf(r.l1_ms)},
            {"l2", Cdf(r.l2_ms)},
            {"origin", Cdf(r.origin_ms)},
            {"start_fetch", Cdf(r.start_fetch_ms)}}},
          {"l2_egress_bytes", r.l2_egress_bytes},
          {"l2_peak_egress", PeakEgressJson(c, r)},
          {"l2_repaired_stripes", r.l2_repaired},
          {"origin", OriginJson(c, r.origin)},
          {"sharing", SharingJson(c, r.sharing)},
          {"curves", CurvesJson(r.curves)}};
}

}  // namespace lode::sim
