#include "sim/report.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "util/file.h"

extern char** environ;

namespace lode::sim {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Number(double v, const char* format = "%.4g") {
  char text[64];
  std::snprintf(text, sizeof(text), format, v);
  return text;
}

std::string Percent(double share) { return Number(100 * share, "%.3g%%"); }

// The runs of a result: its variants, or itself.
std::vector<json> Runs(const json& result) {
  if (result.contains("variants")) return result["variants"].get<std::vector<json>>();
  return {result};
}

std::string RunName(const json& run) { return run.value("name", std::string("run")); }

// Text for inside a gnuplot '...' string.
std::string Quotable(std::string text) {
  for (char& c : text) c = c == '\'' ? ' ' : c;
  return text;
}

// Draws with gnuplot in `dir`: writes the script, runs it, returns the SVG.
Result<std::string> Draw(const std::string& dir, const std::string& name,
                         const std::string& script) {
  std::string gp = dir + "/" + name + ".gp", svg = dir + "/" + name + ".svg";
  LODE_RETURN_IF_ERROR(WriteFileAtomically(
      gp,
      "set terminal svg size 720,360 dynamic font 'sans,11'\nset output '" + svg + "'\n" + script,
      AtomicFile::Durability::kUnsynced));
  std::string program = "gnuplot", errors = dir + "/" + name + ".err";
  std::vector<char*> argv = {program.data(), gp.data(), nullptr};
  // Its warnings (a one-point range) go to a file, shown only on failure.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int spawned = posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return Status::FailedPrecondition(
        "drawing the report's figures needs gnuplot (Debian package gnuplot-nox)");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Result<std::string> said = ReadFileToString(errors);
    std::string why = said.ok() ? *said : "";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    size_t last_line = why.rfind('\n');
    if (last_line != std::string::npos) why = why.substr(last_line + 1);
    return Status::IOError("gnuplot could not draw " + name + (why.empty() ? "" : ": " + why));
  }
  return ReadFileToString(svg);
}

// Data file of `columns(run, hour)` per hour, one block per run.
Status WriteHours(const std::string& path, const std::vector<json>& runs,
                  const std::vector<std::string>& fields) {
  std::string data;
  for (const json& run : runs) {
    for (const json& h : run["hours"]) {
      data += std::to_string(h["hour"].get<int>());
      for (const std::string& f : fields) {
        data += ' ';
        data += Number(h[f].get<double>(), "%.6g");
      }
      data += "\n";
    }
    data += "\n\n";  // gnuplot's next data set
  }
  return WriteFileAtomically(path, data, AtomicFile::Durability::kUnsynced);
}

// Fetch latency CDFs (log scale) of `tiers` of each of `runs`.
Result<std::string> LatencyFigure(const std::string& dir, const std::string& name,
                                  const std::vector<json>& runs,
                                  const std::vector<std::string>& tiers) {
  std::string data, plot = "plot ";
  size_t index = 0;
  for (const json& run : runs) {
    for (const std::string& tier : tiers) {
      const json& points = run["latency_cdf"][tier];
      if (points.empty()) continue;
      for (const json& p : points) {
        data += Number(p[0].get<double>(), "%.6g");
        data += ' ';
        data += Number(p[1].get<double>(), "%.6g");
        data += '\n';
      }
      data += "\n\n";
      std::string title = Quotable(runs.size() > 1 ? RunName(run) : tier);
      plot += std::string(index ? ", " : "") + "'" + dir + "/" + name + ".dat' index " +
              std::to_string(index) + " using 1:2 with lines lw 2 title '" + title + "'";
      ++index;
    }
  }
  if (index == 0) return std::string();
  LODE_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/" + name + ".dat", data, AtomicFile::Durability::kUnsynced));
  std::string what = tiers.size() == 1 ? tiers[0] + " fetches" : "fetches per tier";
  if (runs.size() == 1) what += " (" + RunName(runs[0]) + ")";
  what = Quotable(what);
  return Draw(dir, name,
              "set title 'Latency of " + what +
                  "'\nset xlabel 'milliseconds'\nset logscale x\n"
                  "set ylabel 'fraction at or below'\nset yrange [0:1]\nset key outside right\n" +
                  plot + "\n");
}

// Holding, reloading and total cost per hour of each run, the cheapest
// marked: the five-minute rule over the runs' cache sizes.
Result<std::string> CostFigure(const std::string& dir, const std::vector<json>& runs) {
  std::string data;
  size_t cheapest = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const json& c = runs[i]["cost"];
    std::string name = RunName(runs[i]);
    for (char& ch : name) ch = ch == '"' ? '\'' : ch;
    data += std::to_string(i) + " \"" + name + "\" " +
            Number(c["holding_per_hour"].get<double>(), "%.8g") + " " +
            Number(c["reloading_per_hour"].get<double>(), "%.8g") + " " +
            Number(c["total_per_hour"].get<double>(), "%.8g") + "\n";
    if (c["total_per_hour"].get<double>() <
        runs[cheapest]["cost"]["total_per_hour"].get<double>()) {
      cheapest = i;
    }
  }
  std::string file = dir + "/cost.dat";
  LODE_RETURN_IF_ERROR(WriteFileAtomically(file, data, AtomicFile::Durability::kUnsynced));
  std::string total = Number(runs[cheapest]["cost"]["total_per_hour"].get<double>(), "%.8g");
  return Draw(dir, "cost",
              "set title 'Cost per hour: holding (caches) against reloading (reads below)'\n"
              "set ylabel 'dollars per hour'\nset key outside right\nset xtics rotate by -30\n"
              "set offsets 0.3, 0.3, 0, 0\nset label 1 'cheapest' at " +
                  std::to_string(cheapest) + ", " + total +
                  " point pt 7 ps 2 offset 1,1\n"
                  "plot '" +
                  file +
                  "' using 1:3:xtic(2) with linespoints lw 2 title 'holding', '' using 1:4 with "
                  "linespoints lw 2 title 'reloading', '' using 1:5 with linespoints lw 3 title "
                  "'total'\n");
}

// The GETs the origin served per minute in each run (log scale): the
// flood after an emptied L2, the refills after a salt rotation.
Result<std::string> OriginFigure(const std::string& dir, const std::vector<json>& runs) {
  std::string data, plot = "plot ";
  for (size_t i = 0; i < runs.size(); ++i) {
    const json& minutes = runs[i]["origin"]["gets_per_minute"];
    for (size_t m = 0; m < minutes.size(); ++m) {
      data += Number(static_cast<double>(m) / 60, "%.6g") + " " +
              Number(std::max(minutes[m].get<double>(), 0.1), "%.6g") + "\n";
    }
    data += "\n\n";
    std::string title = Quotable(RunName(runs[i]));
    plot += std::string(i ? ", " : "") + "'" + dir + "/origin.dat' index " + std::to_string(i) +
            " using 1:2 with lines lw 2 title '" + title + "'";
  }
  LODE_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/origin.dat", data, AtomicFile::Durability::kUnsynced));
  return Draw(dir, "origin",
              "set title 'GETs the origin served per minute'\nset xlabel 'hour of the trace'\n"
              "set ylabel 'GETs per minute'\nset logscale y\nset key outside right\n" +
                  plot + "\n");
}

// Miss ratio against cache size per policy (log x) for the first run with
// curves, the configured size and the five-minute rule's marked.
Result<std::string> CurvesFigure(const std::string& dir, const std::vector<json>& runs) {
  auto with = std::find_if(runs.begin(), runs.end(), [](const json& r) {
    return r.contains("curves") && !r["curves"].is_null();
  });
  if (with == runs.end()) return std::string();
  const json& curves = (*with)["curves"];
  std::string data, plot = "plot ";
  size_t index = 0;
  for (const auto& [policy, points] : curves["miss_ratio"].items()) {
    for (const json& p : points) {
      data += Number(p[0].get<double>() / (1 << 30), "%.6g") + " " +
              Number(p[1].get<double>(), "%.6g") + "\n";
    }
    data += "\n\n";
    plot += std::string(index ? ", " : "") + "'" + dir + "/curves.dat' index " +
            std::to_string(index) + " using 1:2 with linespoints lw 2 title '" + policy + "'";
    ++index;
  }
  LODE_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/curves.dat", data, AtomicFile::Durability::kUnsynced));
  double configured = curves["configured_bytes"].get<double>() / (1 << 30);
  double five = curves["five_minute_bytes"].get<double>() / (1 << 30);
  std::string marks = "set arrow 1 from " + Number(configured, "%.6g") + ", graph 0 to " +
                      Number(configured, "%.6g") +
                      ", graph 1 nohead dt 2\nset label 1 'configured' at " +
                      Number(configured, "%.6g") + ", graph 0.95 offset 0.5,0\n";
  if (five > 0) {
    marks += "set arrow 2 from " + Number(five, "%.6g") + ", graph 0 to " + Number(five, "%.6g") +
             ", graph 1 nohead dt 3 lw 2\nset label 2 'five-minute rule' at " +
             Number(five, "%.6g") + ", graph 0.85 offset 0.5,0\n";
  }
  std::string stream = curves["stream"] == "l1" ? "worker 0 L1" : "L2";
  std::string run = Quotable(RunName(*with));
  return Draw(dir, "curves",
              "set title 'Miss ratio of the " + stream + " stream by cache size and policy (" +
                  run +
                  ")'\nset xlabel 'cache GiB'\nset logscale x\nset ylabel 'miss ratio'\n"
                  "set yrange [0:1]\nset key outside right\n" +
                  marks + plot + "\n");
}

// Each L2 node's busiest second in Gb/s, hottest first, per run, against
// a 50 Gb/s network card: how a burst's hot stripes load the nodes.
Result<std::string> EgressFigure(const std::string& dir, const std::vector<json>& runs) {
  std::string data, plot = "plot 50 with lines dt 2 lc rgb 'red' title 'a 50 Gb/s card'";
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<double> gbps;
    for (const json& bytes : runs[i]["l2_peak_egress"]["bytes_per_second"]) {
      gbps.push_back(bytes.get<double>() * 8 / 1e9);
    }
    std::sort(gbps.rbegin(), gbps.rend());
    for (size_t n = 0; n < gbps.size(); ++n) {
      data += std::to_string(n + 1) + " " + Number(gbps[n], "%.6g") + "\n";
    }
    data += "\n\n";
    std::string title = Quotable(RunName(runs[i]));
    plot += ", '" + dir + "/egress.dat' index " + std::to_string(i) +
            " using 1:2 with linespoints lw 2 title '" + title + "'";
  }
  LODE_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/egress.dat", data, AtomicFile::Durability::kUnsynced));
  return Draw(dir, "egress",
              "set title 'Each L2 node in its busiest second, hottest first'\n"
              "set xlabel 'L2 node (by rank)'\nset ylabel 'Gb/s'\nset yrange [0:*]\nset offsets 0, "
              "0, 5, 0\n"
              "set key outside right\n" +
                  plot + "\n");
}

// Each tier's median hour after warm-up, as dashed lines in its color.
std::string MedianLines(const json& run) {
  const json& m = run["tiers_median_hour"];
  std::string lines;
  int color = 1;
  for (auto [key, name] : {std::pair{"l1", "L1"}, {"l2", "L2"}, {"origin", "origin"}}) {
    lines += ", " + Number(m[key].get<double>(), "%.6g") + " with lines dt 2 lc " +
             std::to_string(color++) + " title 'median " + name + " " +
             Percent(m[key].get<double>()) + "'";
  }
  return lines;
}

Result<std::string> Figures(const std::vector<json>& runs, const std::string& dir) {
  std::string data = dir + "/hours.dat";
  LODE_RETURN_IF_ERROR(WriteHours(data, runs, {"l1", "l2", "origin", "l2_hit_ratio"}));
  std::string html;
  // Tier shares by hour of the first run.
  LODE_ASSIGN_OR_RETURN(
      std::string shares,
      Draw(dir, "shares",
           "set title 'Chunk reads served per tier, by hour (" + RunName(runs[0]) +
               ")'\nset xlabel 'hour of the trace'\nset ylabel 'share of reads'\n"
               "set yrange [0:1]\nset key outside right\n"
               "plot '" +
               data +
               "' index 0 using 1:2 with lines lw 2 lc 1 title 'L1', '' index 0 "
               "using 1:3 with lines lw 2 lc 2 title 'L2', '' index 0 using 1:4 with lines lw 2 "
               "lc 3 title 'origin'" +
               MedianLines(runs[0]) + "\n"));
  html += "<figure>" + shares + "</figure>\n";
  // The L2 hit ratio of every run.
  std::string plot = "plot ";
  for (size_t i = 0; i < runs.size(); ++i) {
    std::string title = Quotable(RunName(runs[i]));
    plot += std::string(i ? ", " : "") + "'" + data + "' index " + std::to_string(i) +
            " using 1:5 with linespoints lw 2 title '" + title + "'";
  }
  LODE_ASSIGN_OR_RETURN(
      std::string ratio,
      Draw(dir, "l2",
           "set title 'L2 hit ratio by hour (L2 hits over reads that reached the L2)'\n"
           "set xlabel 'hour of the trace'\nset ylabel 'L2 hit ratio'\nset key outside right\n" +
               plot + "\n"));
  html += "<figure>" + ratio + "</figure>\n";
  LODE_ASSIGN_OR_RETURN(std::string origin, OriginFigure(dir, runs));
  html += "<figure>" + origin + "</figure>\n";
  LODE_ASSIGN_OR_RETURN(std::string egress, EgressFigure(dir, runs));
  html += "<figure>" + egress + "</figure>\n";
  LODE_ASSIGN_OR_RETURN(std::string curves, CurvesFigure(dir, runs));
  if (!curves.empty()) html += "<figure>" + curves + "</figure>\n";
  LODE_ASSIGN_OR_RETURN(std::string tiers,
                        LatencyFigure(dir, "tiers", {runs[0]}, {"l1", "l2", "origin"}));
  html += "<figure>" + tiers + "</figure>\n";
  if (runs.size() > 1) {
    LODE_ASSIGN_OR_RETURN(std::string l2, LatencyFigure(dir, "l2-cdf", runs, {"l2"}));
    html += "<figure>" + l2 + "</figure>\n";
    LODE_ASSIGN_OR_RETURN(std::string cost, CostFigure(dir, runs));
    html += "<figure>" + cost + "</figure>\n";
  }
  return html;
}

std::string ClaimsTable(const json& claims) {
  std::string html =
      "<h2>Claims</h2>\n<table><tr><th>claim</th><th>source</th><th>variant</th><th>metric</th>"
      "<th>bound</th><th>simulated</th><th></th></tr>\n";
  for (const json& c : claims) {
    std::string bound =
        c.contains("expect") ? Number(c["expect"]) + " &plusmn; " + Number(c["tolerance"]) : "";
    if (c.contains("at_least")) bound += "&ge; " + Number(c["at_least"]) + " ";
    if (c.contains("at_most")) bound += "&le; " + Number(c["at_most"]);
    bool pass = c["pass"];
    html += "<tr><td>" + Escape(c["claim"]) + "</td><td>" + Escape(c.value("source", "")) +
            "</td><td>" + Escape(c.value("variant", "")) + "</td><td><code>" + Escape(c["metric"]) +
            "</code></td><td>" + bound + "</td><td>" +
            (c["value"].is_number() ? Number(c["value"]) : "none") + "</td><td class='" +
            (pass ? "pass'>pass" : "fail'>FAIL") + "</td></tr>\n";
  }
  return html + "</table>\n";
}

std::string RunsTable(const std::vector<json>& runs) {
  std::string html =
      "<h2>Runs</h2>\n<table><tr><th>run</th><th>L2 code</th><th>reads (simulated)</th>"
      "<th>L1 / L2 / origin</th><th>after warm-up</th><th>fetch p50 / p99 ms: L1, L2, "
      "origin</th><th>a start's fetches p50 / p99 ms</th><th>$ per hour: holding + "
      "reloading</th></tr>\n";
  for (const json& r : runs) {
    auto split = [](const json& t) {
      return Percent(t["l1"]) + " / " + Percent(t["l2"]) + " / " + Percent(t["origin"]);
    };
    const json& l = r["latency_ms"];
    auto pair = [&l](const char* tier) {
      return Number(l[tier]["p50"]) + " / " + Number(l[tier]["p99"]);
    };
    html += "<tr><td>" + Escape(RunName(r)) + "</td><td>" +
            Escape(r["config"]["l2_code"].get<std::string>()) + "</td><td>" +
            std::to_string(r["trace_reads"].get<uint64_t>()) + " (" +
            std::to_string(r["reads"].get<uint64_t>()) + ")</td><td>" + split(r["tiers"]) +
            "</td><td>" + split(r["tiers_after_warmup"]) + "</td><td>" + pair("l1") + ", " +
            pair("l2") + ", " + pair("origin") + "</td><td>" + pair("start_fetch") + "</td><td>" +
            Number(r["cost"]["holding_per_hour"]) + " + " +
            Number(r["cost"]["reloading_per_hour"]) + "</td></tr>\n";
  }
  return html + "</table>\n";
}

}  // namespace

Status WriteReport(const json& result, const std::string& title, const std::string& path) {
  std::vector<json> runs = Runs(result);
  std::string dir = (fs::temp_directory_path() / "lode-sim-report.XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp");
  Result<std::string> figures = Figures(runs, dir);
  std::error_code ec;
  fs::remove_all(dir, ec);
  LODE_RETURN_IF_ERROR(figures.status());
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>" + Escape(title) +
      "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:80em}"
      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em "
      ".6em;text-align:left}.pass{color:#060}.fail{color:#b00;font-weight:bold}"
      "figure{margin:1em 0}</style></head><body>\n<h1>lode sim: " +
      Escape(title) + "</h1>\n";
  if (result.contains("claims")) html += ClaimsTable(result["claims"]);
  html += RunsTable(runs) + "<h2>Figures</h2>\n" + *figures + "</body></html>\n";
  return WriteFileAtomically(path, html, AtomicFile::Durability::kUnsynced);
}

}  // namespace lode::sim
