// lode sim CONFIG: size a fleet before building it. Generates the trace
// the configuration describes, replays it through simulated workers, L2
// and origin on lode's own cache code, and reports where chunk reads were
// served and how long they took.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "sim/config.h"
#include "sim/generator.h"
#include "sim/result.h"
#include "sim/simulator.h"
#include "sim/trace_files.h"
#include "util/file.h"

namespace lode::cli {
namespace {

struct SimArgs {
  std::string config, output, write_trace;
  bool json = false;
};

std::string Percent(double share) {
  char text[32];
  std::snprintf(text, sizeof(text), share < 0.001 && share > 0 ? "%.3f%%" : "%.1f%%", 100 * share);
  return text;
}

void PrintSummary(const nlohmann::json& r, double seconds) {
  const nlohmann::json& c = r["config"];
  double trace_reads = r["trace_reads"].get<double>(), reads = r["reads"].get<double>();
  std::printf(
      "%llu starts, %.0f chunk reads (%.0f simulated: sampling %g) in %.1f s: %.2f M reads/s\n",
      r["starts"].get<unsigned long long>(), trace_reads, reads, c["sampling_rate"].get<double>(),
      seconds, seconds > 0 ? trace_reads / seconds / 1e6 : 0.0);
  auto tiers = [](const nlohmann::json& t) {
    return "L1 " + Percent(t["l1"]) + ", L2 " + Percent(t["l2"]) + ", origin " +
           Percent(t["origin"]);
  };
  std::printf("served: %s\n", tiers(r["tiers"]).c_str());
  std::printf("served after %g h of warm-up: %s\n", c["warmup_hours"].get<double>(),
              tiers(r["tiers_after_warmup"]).c_str());
  const nlohmann::json& l = r["latency_ms"];
  std::printf(
      "fetch p50 / p99 ms: L1 %.2f / %.2f, L2 %.2f / %.2f, origin %.1f / %.1f; "
      "a start's fetches %.1f / %.1f\n",
      l["l1"]["p50"].get<double>(), l["l1"]["p99"].get<double>(), l["l2"]["p50"].get<double>(),
      l["l2"]["p99"].get<double>(), l["origin"]["p50"].get<double>(),
      l["origin"]["p99"].get<double>(), l["start_fetch"]["p50"].get<double>(),
      l["start_fetch"]["p99"].get<double>());
}

void Run(const SimArgs& a) {
  std::string text = Check(ReadFileToString(a.config));
  Result<sim::SimSetup> parsed = sim::ParseSimConfig(text);
  if (!parsed.ok()) Check(parsed.status().WithContext(a.config));
  const sim::SimSetup& setup = *parsed;
  ProgressLine progress;
  sim::Trace trace;
  if (setup.trace_path.empty()) {
    progress.Update("generating the trace");
    trace = sim::GeneratePaperTrace(setup.trace);
  } else {
    // A relative path is the configuration's neighbor.
    std::filesystem::path path = setup.trace_path;
    if (path.is_relative()) path = std::filesystem::path(a.config).parent_path() / path;
    progress.Update("reading the trace");
    trace = Check(sim::ReadTrace(path.string()));
  }
  if (!a.write_trace.empty()) Check(sim::WriteTrace(trace, a.write_trace));
  sim::SimResult result = sim::Simulate(trace, setup.fleet, [&](double done) {
    progress.Update("simulating: " + std::to_string(static_cast<int>(done * 100)) + "%");
  });
  progress.Update("");
  nlohmann::json j = sim::ResultJson(setup, result);
  if (!a.output.empty()) {
    Check(WriteFileAtomically(a.output, j.dump(1) + "\n", AtomicFile::Durability::kUnsynced));
  }
  if (a.json) {
    j["run"] = {{"wall_seconds", result.wall_seconds},
                {"trace_reads_per_second",
                 result.wall_seconds > 0 ? result.trace_reads / result.wall_seconds : 0.0}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    PrintSummary(j, result.wall_seconds);
  }
}

}  // namespace

void RegisterSim(CLI::App& app) {
  auto a = std::make_shared<SimArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sim", "Simulate a fleet (workers' L1, the L2 fleet, the origin) on a generated trace");
  cmd->add_option("config", a->config, "the configuration (JSON; see docs/formats/sim.md)")
      ->required();
  cmd->add_option("-o,--output", a->output, "write the JSON result to this file");
  cmd->add_flag("--json", a->json, "print the JSON result instead of a summary");
  cmd->add_option("--write-trace", a->write_trace,
                  "also write the trace it replays into this directory (trace files)");
  cmd->callback([a] { Run(*a); });
}

}  // namespace lode::cli
