#!/usr/bin/env python3
"""Invokes a function through lode serve's Invoke API over keep-alive
connections and reports what the caller saw, as JSON:
  invoke_load.py --port P --function F --count N [--clients C] [--reports FILE]
With one client, every invocation's round trip (p50, p99, max); with C
clients, C connections in C threads invoking as fast as they are answered
(invocations per second). With --reports (the host's reports.jsonl), the
host's overhead per invocation: the round trip less the REPORT duration
(the runtime's share, from its receiving the event to its answer)."""
import argparse
import http.client
import json
import statistics
import threading
import time


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def client(port, function, count, out):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    path = f"/2015-03-31/functions/{function}/invocations"
    for i in range(count):
        t0 = time.perf_counter()
        conn.request("POST", path, body=json.dumps({"i": i}))
        r = conn.getresponse()
        r.read()
        rtt = time.perf_counter() - t0
        if r.status != 200 or r.getheader("X-Amz-Function-Error"):
            raise SystemExit(f"invocation {i}: HTTP {r.status}")
        out.append((r.getheader("X-Amzn-RequestId"), rtt * 1000))


ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--function", required=True)
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--clients", type=int, default=1)
ap.add_argument("--reports")
a = ap.parse_args()

results = [[] for _ in range(a.clients)]
threads = [threading.Thread(target=client, args=(a.port, a.function, a.count, results[i]))
           for i in range(a.clients)]
t0 = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - t0
calls = [c for r in results for c in r]
if len(calls) != a.count * a.clients:
    raise SystemExit("some invocations failed")
rtts = [ms for _, ms in calls]
out = {"invocations": len(calls), "clients": a.clients, "seconds": round(elapsed, 3),
       "per_second": round(len(calls) / elapsed, 1),
       "rtt_ms": {"p50": round(percentile(rtts, 50), 3), "p99": round(percentile(rtts, 99), 3),
                  "max": round(max(rtts), 3), "mean": round(statistics.mean(rtts), 3)}}
if a.reports:
    durations = {}
    with open(a.reports) as f:
        for line in f:
            r = json.loads(line)
            durations[r["request_id"]] = r["duration_ms"]
    matched = [durations[rid] for rid, _ in calls if rid in durations]
    out["duration_ms"] = {"p50": round(percentile(matched, 50), 3),
                          "p99": round(percentile(matched, 99), 3)}
    overhead = [ms - durations[rid] for rid, ms in calls if rid in durations]
    out["host_overhead_ms"] = {"p50": round(percentile(overhead, 50), 3),
                               "p99": round(percentile(overhead, 99), 3),
                               "matched": len(overhead)}
print(json.dumps(out))
