#include "agent/metrics.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <iomanip>
#include <sstream>

#include "util/listen.h"

namespace lode::agent {
namespace {

using nlohmann::json;

// Label values escape backslash, quote and newline.
std::string Quote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out + "\"";
}

class Writer {
 public:
  // One metric family: its HELP and TYPE lines come once, before its samples.
  void Family(const std::string& name, const char* type, const std::string& help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  template <class Number>
  void Sample(const std::string& name, const std::string& labels, Number value) {
    out_ << name;
    if (!labels.empty()) out_ << "{" << labels << "}";
    out_ << " " << value << "\n";
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

uint64_t U(const json& j, const char* key) { return j.value(key, uint64_t{0}); }

struct Counter {
  const char* key;  // in the stats JSON
  const char* name;
  const char* help;
};

// The per-tier latency histogram: bucket i of the snapshot holds
// latencies in [2^i, 2^(i+1)) us, so its cumulative bound is 2^(i+1) us.
void TierLatency(Writer& w, const json& tier, const std::string& label) {
  const std::string name = "lode_tier_fetch_duration_seconds";
  uint64_t cumulative = 0;
  const json& buckets = tier["latency_us_log2_buckets"];
  for (size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i].get<uint64_t>();
    std::ostringstream le;
    le << std::setprecision(10) << static_cast<double>(uint64_t{2} << i) / 1e6;
    w.Sample(name + "_bucket", label + ",le=" + Quote(le.str()), cumulative);
  }
  w.Sample(name + "_bucket", label + ",le=\"+Inf\"", cumulative);
  w.Sample(name + "_sum", label, tier.value("latency_sum_seconds", 0.0));
  w.Sample(name + "_count", label, cumulative);
}

void Tiers(Writer& w, const json& tiers) {
  const Counter counters[] = {
      {"hits", "lode_tier_hits_total", "Chunk reads a cache tier or the origin served."},
      {"misses", "lode_tier_misses_total", "Chunk reads a tier could not serve."},
      {"bytes", "lode_tier_bytes_total", "Stored chunk bytes a tier served."},
      {"errors", "lode_tier_errors_total", "Failed tier reads, bad copies included."}};
  for (const Counter& c : counters) {
    w.Family(c.name, "counter", c.help);
    for (const json& t : tiers) {
      if (t.contains(c.key)) w.Sample(c.name, "tier=" + Quote(t["tier"]), U(t, c.key));
    }
  }
  w.Family("lode_tier_fetch_duration_seconds", "histogram",
           "Time to get a chunk from a tier, verified.");
  for (const json& t : tiers) {
    if (t.contains("latency_us_log2_buckets")) TierLatency(w, t, "tier=" + Quote(t["tier"]));
  }
  for (const json& t : tiers) {
    if (t["tier"] == "memory") {
      w.Family("lode_memory_cache_bytes", "gauge", "Decrypted chunk bytes held in memory.");
      w.Sample("lode_memory_cache_bytes", "", U(t, "bytes_cached"));
    }
  }
}

// Metrics without labels, each one field of `j`.
struct Single {
  const char* key;
  const char* name;
  const char* type;
  const char* help;
};

void Singles(Writer& w, const json& j, std::initializer_list<Single> metrics) {
  for (const Single& m : metrics) {
    w.Family(m.name, m.type, m.help);
    w.Sample(m.name, "", U(j, m.key));
  }
}

void L2(Writer& w, const json& tiers) {
  for (const json& t : tiers) {
    if (t["tier"] != "l2" || !t.contains("fills")) continue;
    Singles(w, t,
            {{"stripes_late", "lode_l2_stripes_late_total", "counter",
              "Stripes that arrived after the chunk was decoded without them."},
             {"stripes_missing", "lode_l2_stripes_missing_total", "counter",
              "Stripes a server did not have or could not send."},
             {"fills", "lode_l2_fills_total", "counter", "Chunks written to L2 after a miss."},
             {"stripes_stored", "lode_l2_stripes_stored_total", "counter",
              "Stripes written to L2 servers."},
             {"fills_dropped", "lode_l2_fills_dropped_total", "counter",
              "L2 fills dropped because too many were queued."}});
  }
}

void Admission(Writer& w, const json& tiers) {
  for (const json& t : tiers) {
    if (!t.contains("admission")) continue;
    Singles(
        w, t["admission"],
        {{"limit", "lode_admission_limit", "gauge", "Origin fetches allowed in flight at once."},
         {"in_flight", "lode_admission_in_flight", "gauge", "Origin fetches in flight."},
         {"admitted", "lode_admission_admitted_total", "counter", "Origin fetches admitted."},
         {"waited", "lode_admission_waits_total", "counter",
          "Origin fetches that waited for a slot."},
         {"rejected", "lode_admission_rejections_total", "counter",
          "Origin fetches that gave up waiting for a slot."}});
  }
}

void L1(Writer& w, const json& l1) {
  Singles(w, l1,
          {{"entries", "lode_l1_chunks", "gauge", "Chunks in the L1 disk cache."},
           {"bytes", "lode_l1_bytes", "gauge", "Bytes in the L1 disk cache."},
           {"budget", "lode_l1_budget_bytes", "gauge", "The L1 disk cache's budget."},
           {"evictions", "lode_l1_evictions_total", "counter", "Chunks evicted from L1."}});
}

void Attachments(Writer& w, const json& attachments) {
  w.Family("lode_attachments", "gauge", "Images attached to the agent.");
  w.Sample("lode_attachments", "", attachments.size());
  const Counter counters[] = {
      {"bytes_read", "lode_attachment_read_bytes_total", "Bytes read from the block file."},
      {"reads", "lode_attachment_reads_total", "Reads of the block file."},
      {"read_errors", "lode_attachment_read_errors_total", "Reads that failed."},
      {"bytes_written", "lode_attachment_written_bytes_total",
       "Bytes written to the block file's overlay."},
      {"chunks_fetched", "lode_attachment_chunks_fetched_total",
       "Chunks fetched from L2 or the origin for the attachment."}};
  for (const Counter& c : counters) {
    w.Family(c.name, "counter", c.help);
    for (const json& a : attachments) {
      w.Sample(c.name, "attachment=" + Quote(a["id"]) + ",tenant=" + Quote(a["tenant"]),
               U(a, c.key));
    }
  }
}

}  // namespace

std::string RenderPrometheus(const json& stats, uint64_t handovers) {
  Writer w;
  Tiers(w, stats["tiers"]);
  L2(w, stats["tiers"]);
  Admission(w, stats["tiers"]);
  L1(w, stats["l1"]);
  Attachments(w, stats["attachments"]);
  w.Family("lode_agent_handovers_total", "counter",
           "Agents that took over this mount's FUSE connection (restarts and upgrades).");
  w.Sample("lode_agent_handovers_total", "", handovers);
  return w.str();
}

MetricsServer::MetricsServer(UniqueFd listen_fd, UniqueFd stop_event, Render render)
    : listen_fd_(std::move(listen_fd)),
      stop_event_(std::move(stop_event)),
      render_(std::move(render)) {
  thread_ = std::thread([this] { Serve(); });
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                            Render render) {
  LODE_ASSIGN_OR_RETURN(UniqueFd fd, ListenTcp(address, "metrics"));
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return Status::FromErrno(errno, "eventfd");
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(fd), std::move(stop), std::move(render)));
}

MetricsServer::~MetricsServer() {
  uint64_t one = 1;
  (void)!::write(stop_event_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void MetricsServer::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.valid()) Answer(conn.get());
  }
}

// One request per connection; a scraper that sends nothing waits 2 s at most.
void MetricsServer::Answer(int conn) {
  timeval patience{2, 0};
  ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
    if (n <= 0) return;
    request.append(buf, static_cast<size_t>(n));
  }
  bool metrics = request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET /metrics?", 0) == 0;
  std::string body = metrics ? render_() : "not found: try /metrics\n";
  std::string head = std::string(metrics ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 404 Not Found\r\n") +
                     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n" +
                     "Content-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\n\r\n";
  std::string reply = head + body;
  for (size_t done = 0; done < reply.size();) {
    ssize_t n = ::send(conn, reply.data() + done, reply.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace lode::agent
