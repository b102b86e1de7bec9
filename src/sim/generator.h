// Synthetic traces shaped like the paper's measurements of Lambda: images
// built on a few popular bases (runtimes), most adding little of their own
// (~75% under 5% unique bytes); a start reads a small part of its image
// (~6.4%), mostly the base's; function popularity is Zipf, arrivals follow
// a daily cycle; re-deploys mostly add no new chunk (80%), the rest a few
// percent. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/trace.h"

namespace lode::sim {

struct PaperTraceShape {
  uint64_t seed = 1;
  double hours = 24;
  double starts_per_second = 20;   // mean over the day
  double diurnal_amplitude = 0.5;  // peak = mean x (1 + amplitude)
  uint32_t functions = 5000;
  uint32_t tenants = 1;  // function f is tenant f mod tenants's
  double function_zipf = 1.0;
  uint32_t bases = 20;
  // Bases recorded from real images (trace_files.h), used instead of
  // `bases` generated ones when given.
  std::vector<Image> base_images;
  double base_zipf = 1.0;
  uint64_t base_chunks_median = 600;  // 300 MiB at 512 KiB
  uint64_t max_image_chunks = 20480;  // 10 GiB
  double read_fraction = 0.064;       // of a base's chunks, read at a start
  double own_read_fraction = 0.064;   // of an image's own chunks, read at a start
  double small_unique_share = 0.75;   // of images: under 5% unique bytes
  double redeploys_per_function_day = 0.2;
  double redeploy_no_new_chunk = 0.8;
  double redeploy_unique_median = 0.025;  // of the image, when it adds chunks
  // One-off scans: starts of a scanning function that read chunks no other
  // start ever reads (a cron job over fresh data), this many per hour,
  // each of `scan_chunks` chunks.
  double scans_per_hour = 0;
  uint64_t scan_chunks = 0;
};

// A burst of one function: starts ramping linearly from none to
// `peak_per_second` over `ramp_seconds`, then held for `hold_seconds`
// (a customer scaling out at once: 15,000 new containers a second).
struct BurstShape {
  double peak_per_second = 15000;
  double ramp_seconds = 30;
  double hold_seconds = 30;
};

Trace GeneratePaperTrace(const PaperTraceShape& shape);
// The burst's one function runs on a paper-shaped image (`images` with one
// function), at evenly spaced times.
Trace GenerateBurstTrace(const PaperTraceShape& images, const BurstShape& burst);
// Only the catalog: `shape.functions` functions, function i on image i, no
// starts (for starts from elsewhere: azure.h).
Trace GeneratePaperImages(const PaperTraceShape& shape);

}  // namespace lode::sim
