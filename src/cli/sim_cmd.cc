// lode sim CONFIG: size a fleet before building it. Generates the trace
// the configuration describes, replays it through simulated workers, L2
// and origin on lode's own cache code, and reports where chunk reads were
// served and how long they took.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "sim/azure.h"
#include "sim/config.h"
#include "sim/generator.h"
#include "sim/oracle_general.h"
#include "sim/report.h"
#include "sim/result.h"
#include "sim/simulator.h"
#include "sim/trace_files.h"
#include "util/file.h"

namespace lode::cli {
namespace {

struct SimArgs {
  std::string config, output, write_trace, report, export_requests;
  bool json = false, check = false;
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
  if (r["warm"].get<uint64_t>() > 0 || r["spilled"].get<uint64_t>() > 0 ||
      r["refused"].get<uint64_t>() > 0) {
    std::printf("%llu invocations: %llu warm, %llu cold starts (%llu spilled), %llu refused\n",
                r["invocations"].get<unsigned long long>(), r["warm"].get<unsigned long long>(),
                r["starts"].get<unsigned long long>(), r["spilled"].get<unsigned long long>(),
                r["refused"].get<unsigned long long>());
  }
  const nlohmann::json& o = r["origin"];
  std::printf(
      "origin: %.0f GETs, busiest second %.0f; admission waited %llu, rejected %llu (%llu starts "
      "failed)\n",
      o["gets"].get<double>(), o["peak_gets_per_second"].get<double>(),
      o["admission_waited"].get<unsigned long long>(),
      o["admission_rejected"].get<unsigned long long>(),
      r["failed_starts"].get<unsigned long long>());
}

// The claims table, a line per claim.
void PrintClaims(const nlohmann::json& claims) {
  for (const nlohmann::json& c : claims) {
    std::string bound = c.contains("expect") ? std::to_string(c["expect"].get<double>()) + " +- " +
                                                   std::to_string(c["tolerance"].get<double>())
                        : c.contains("at_most")
                            ? "<= " + std::to_string(c["at_most"].get<double>())
                            : ">= " + std::to_string(c["at_least"].get<double>());
    std::string value = c["value"].is_number() ? std::to_string(c["value"].get<double>()) : "none";
    std::printf("%s  %s%s: %s (%s %s)\n", c["pass"].get<bool>() ? "pass" : "FAIL",
                c["claim"].get<std::string>().c_str(),
                c.contains("variant") ? (" [" + c["variant"].get<std::string>() + "]").c_str() : "",
                value.c_str(), c["metric"].get<std::string>().c_str(), bound.c_str());
  }
}

// DIR/[VARIANT-]l1-worker0.oracleGeneral and DIR/[VARIANT-]l2.oracleGeneral.
void ExportRequests(const std::string& dir, const std::string& variant,
                    const sim::RequestStreams& streams) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) Check(Status::IOError("create " + dir + ": " + ec.message()));
  std::string prefix = dir + "/";
  for (char c : variant) prefix += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (!variant.empty()) prefix += "-";
  Check(sim::WriteOracleGeneral(streams.l1_worker0, prefix + "l1-worker0.oracleGeneral"));
  Check(sim::WriteOracleGeneral(streams.l2, prefix + "l2.oracleGeneral"));
}

sim::Trace LoadTrace(const SimArgs& a, const sim::SimSetup& setup, ProgressLine& progress) {
  // Relative paths are the configuration's neighbors.
  auto near_config = [&a](const std::string& p) {
    std::filesystem::path path = p;
    return (path.is_relative() ? std::filesystem::path(a.config).parent_path() / path : path)
        .string();
  };
  if (!setup.trace_path.empty()) {
    progress.Update("reading the trace");
    return Check(sim::ReadTrace(near_config(setup.trace_path)));
  }
  sim::PaperTraceShape shape = setup.trace;
  if (!setup.base_images_path.empty()) {
    shape.base_images = Check(sim::ReadImages(near_config(setup.base_images_path)));
  }
  if (!setup.azure.days.empty()) {
    progress.Update("reading the Azure Functions trace");
    sim::AzureShape azure = setup.azure;
    for (std::string& day : azure.days) day = near_config(day);
    return Check(sim::AzureTrace(azure, shape));
  }
  progress.Update("generating the trace");
  if (setup.burst) return sim::GenerateBurstTrace(shape, *setup.burst);
  return sim::GeneratePaperTrace(shape);
}

void Run(const SimArgs& a) {
  std::string text = Check(ReadFileToString(a.config));
  Result<sim::SimSetup> parsed = sim::ParseSimConfig(text);
  if (!parsed.ok()) Check(parsed.status().WithContext(a.config));
  const sim::SimSetup& setup = *parsed;
  ProgressLine progress;
  // The configuration's trace, made once for the variants that share it
  // (and for --write-trace); a variant that changes it gets its own.
  std::optional<sim::Trace> shared, own;
  auto trace_of = [&](const sim::NamedFleet& v) -> const sim::Trace& {
    if (v.own_trace) {
      own = LoadTrace(a, *v.own_trace, progress);
      return *own;
    }
    if (!shared) shared = LoadTrace(a, setup, progress);
    return *shared;
  };
  if (!a.write_trace.empty()) {
    shared = LoadTrace(a, setup, progress);
    Check(sim::WriteTrace(*shared, a.write_trace));
  }
  nlohmann::json runs = nlohmann::json::array();
  std::map<std::string, nlohmann::json> by_name;
  std::vector<double> seconds;
  for (const sim::NamedFleet& v : setup.variants) {
    std::string label = v.name.empty() ? "simulating" : "simulating " + v.name;
    sim::RequestStreams streams;
    const sim::Trace& trace = trace_of(v);
    sim::SimResult result = sim::Simulate(
        trace, v.fleet,
        [&](double done) {
          progress.Update(label + ": " + std::to_string(static_cast<int>(done * 100)) + "%");
        },
        a.export_requests.empty() ? nullptr : &streams);
    if (!a.export_requests.empty()) ExportRequests(a.export_requests, v.name, streams);
    nlohmann::json r = sim::ResultJson(v.own_trace ? *v.own_trace : setup, v.fleet, result);
    if (!v.name.empty()) r["name"] = v.name;
    by_name[v.name] = r;
    runs.push_back(r);
    seconds.push_back(result.wall_seconds);
  }
  progress.Update("");
  nlohmann::json j = setup.variants.size() == 1 && setup.variants[0].name.empty()
                         ? runs[0]
                         : nlohmann::json{{"variants", runs}};
  if (!setup.claims.empty()) j["claims"] = sim::CheckClaims(setup.claims, by_name);
  if (!a.output.empty()) {
    Check(WriteFileAtomically(a.output, j.dump(1) + "\n", AtomicFile::Durability::kUnsynced));
  }
  if (!a.report.empty()) {
    progress.Update("drawing the report");
    Check(sim::WriteReport(j, std::filesystem::path(a.config).filename().string(), a.report));
    progress.Update("");
  }
  if (a.json) {
    nlohmann::json run = nlohmann::json::array();
    for (size_t i = 0; i < runs.size(); ++i) {
      double trace_reads = runs[i]["trace_reads"].get<double>();
      run.push_back({{"wall_seconds", seconds[i]},
                     {"trace_reads_per_second", seconds[i] > 0 ? trace_reads / seconds[i] : 0.0}});
    }
    j["run"] = run.size() == 1 ? run[0] : run;
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].contains("name"))
        std::printf("== %s\n", runs[i]["name"].get<std::string>().c_str());
      PrintSummary(runs[i], seconds[i]);
    }
    if (j.contains("claims")) PrintClaims(j["claims"]);
  }
  if (a.check && j.contains("claims")) {
    size_t failed = 0;
    for (const nlohmann::json& c : j["claims"]) failed += !c["pass"].get<bool>();
    if (failed > 0) {
      Check(Status::FailedPrecondition(std::to_string(failed) + " of " +
                                       std::to_string(j["claims"].size()) + " claims failed"));
    }
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
  cmd->add_option(
      "--report", a->report,
      "also write an HTML report (claims, runs, figures drawn by gnuplot) to this file");
  cmd->add_option("--export-requests", a->export_requests,
                  "also write worker 0's L1 and the L2's request streams in libCacheSim's "
                  "oracleGeneral format into this directory");
  cmd->add_flag("--check", a->check, "fail (exit 1) when a claim of the configuration fails");
  cmd->add_option("--write-trace", a->write_trace,
                  "also write the trace it replays into this directory (trace files)");
  cmd->callback([a] { Run(*a); });
}

}  // namespace lode::cli
