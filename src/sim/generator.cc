#include "sim/generator.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace lode::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDay = 86400;

// Ranks 0..n-1 with probability proportional to 1 / (rank + 1)^s.
class Zipf {
 public:
  Zipf(uint32_t n, double s) : cdf_(n) {
    double sum = 0;
    for (uint32_t i = 0; i < n; ++i) cdf_[i] = sum += std::pow(i + 1.0, -s);
    for (double& c : cdf_) c /= sum;
  }
  uint32_t operator()(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return static_cast<uint32_t>(std::min<size_t>(it - cdf_.begin(), cdf_.size() - 1));
  }

 private:
  std::vector<double> cdf_;
};

struct Base {
  uint64_t chunks;
  std::vector<uint64_t> start_set;
};

class Generator {
 public:
  explicit Generator(const PaperTraceShape& shape) : shape_(shape), rng_(shape.seed) {}

  Trace Run(bool arrivals) {
    for (const Image& real : shape_.base_images) bases_.push_back({real.chunks, real.start_set});
    if (shape_.base_images.empty()) {
      for (uint32_t b = 0; b < shape_.bases; ++b) bases_.push_back(NewBase());
    }
    Zipf base_rank(static_cast<uint32_t>(bases_.size()), shape_.base_zipf);
    for (uint32_t t = 0; t < shape_.tenants && shape_.tenants > 1; ++t) {
      std::string name = "t";
      name += std::to_string(t);  // not "t" + ...: GCC 12's -Wrestrict misfires on it
      trace_.tenants.push_back(name);
    }
    for (uint32_t f = 0; f < shape_.functions; ++f) {
      trace_.functions.push_back("fn-" + std::to_string(f));
      if (shape_.tenants > 1) trace_.function_tenant.push_back(f % shape_.tenants);
      image_of_.push_back(NewImage(bases_[base_rank(rng_)], f));
    }
    if (arrivals) Arrivals();
    return std::move(trace_);
  }

 private:
  double Uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  double LogNormal(double median, double sigma) {
    return median * std::exp(sigma * std::normal_distribution<double>(0, 1)(rng_));
  }
  // `count` distinct values of [0, n), in random order.
  std::vector<uint64_t> Pick(uint64_t n, uint64_t count) {
    std::vector<uint64_t> all(n);
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng_);
    all.resize(std::min(n, count));
    return all;
  }
  uint64_t ReadCount(uint64_t chunks, double fraction) {
    return std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(fraction * chunks)));
  }
  Base NewBase() {
    uint64_t chunks = std::clamp<uint64_t>(
        static_cast<uint64_t>(LogNormal(static_cast<double>(shape_.base_chunks_median), 0.8)), 16,
        shape_.max_image_chunks);
    uint64_t first = next_content_;
    next_content_ += chunks;
    Base base{chunks, {}};
    for (uint64_t i : Pick(chunks, ReadCount(chunks, shape_.read_fraction)))
      base.start_set.push_back(first + i);
    return base;
  }

  // A function's image: its base and chunks of its own (a fraction of the
  // image: under 5% for most).
  uint32_t NewImage(const Base& base, uint32_t function) {
    bool small = Uniform(0, 1) < shape_.small_unique_share;
    double unique = small ? Uniform(0, 0.05) : Uniform(0.05, 0.6);
    uint64_t own = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::llround(unique * base.chunks / (1 - unique))));
    own = std::min(own, shape_.max_image_chunks - std::min(shape_.max_image_chunks, base.chunks));
    Image image;
    image.name = "img-" + std::to_string(function);
    image.chunks = base.chunks + own;
    image.start_set = base.start_set;
    uint64_t first = next_content_;
    next_content_ += own;
    if (own > 0) {
      for (uint64_t i : Pick(own, ReadCount(own, shape_.own_read_fraction)))
        image.start_set.push_back(first + i);
    }
    trace_.images.push_back(std::move(image));
    return static_cast<uint32_t>(trace_.images.size() - 1);
  }

  // A re-deploy of `function`: most add no chunk (the same content, so the
  // same chunks); the others change a few percent of it.
  void Redeploy(uint32_t function) {
    if (Uniform(0, 1) < shape_.redeploy_no_new_chunk) return;
    // Median 2.5%, mean ~4.3%, as measured.
    double changed = std::min(1.0, LogNormal(shape_.redeploy_unique_median, 1.04));
    Image image = trace_.images[image_of_[function]];
    image.name = trace_.functions[function] + "-v" + std::to_string(++versions_);
    for (uint64_t& content : image.start_set) {
      if (Uniform(0, 1) < changed) content = next_content_++;
    }
    trace_.images.push_back(std::move(image));
    image_of_[function] = static_cast<uint32_t>(trace_.images.size() - 1);
  }

  // A start of the scanning function (the last one) reading chunks of its
  // own that nothing reads again.
  void Scan(double t) {
    if (scan_function_ == 0) {
      scan_function_ = static_cast<uint32_t>(trace_.functions.size());
      trace_.functions.push_back("scan");
      if (shape_.tenants > 1) trace_.function_tenant.push_back(0);
    }
    Image image;
    image.name = "scan-" + std::to_string(++scans_);
    image.chunks = shape_.scan_chunks;
    for (uint64_t i = 0; i < shape_.scan_chunks; ++i) image.start_set.push_back(next_content_++);
    trace_.images.push_back(std::move(image));
    trace_.starts.push_back({t, scan_function_, static_cast<uint32_t>(trace_.images.size() - 1)});
  }

  // Starts: a Poisson process whose rate follows the day (lowest at
  // midnight), by thinning; re-deploys a second Poisson process.
  void Arrivals() {
    Zipf function_rank(shape_.functions, shape_.function_zipf);
    double mean = shape_.starts_per_second, amplitude = shape_.diurnal_amplitude;
    double peak = mean * (1 + amplitude), end = shape_.hours * 3600;
    double redeploy_rate = shape_.functions * shape_.redeploys_per_function_day / kDay;
    std::exponential_distribution<double> gap(peak);
    double next_redeploy =
        redeploy_rate > 0 ? std::exponential_distribution<double>(redeploy_rate)(rng_) : end;
    double scan_rate = shape_.scan_chunks > 0 ? shape_.scans_per_hour / 3600 : 0;
    double next_scan = scan_rate > 0 ? std::exponential_distribution<double>(scan_rate)(rng_) : end;
    for (double t = gap(rng_); t < end; t += gap(rng_)) {
      while (next_redeploy < t) {
        Redeploy(static_cast<uint32_t>(Uniform(0, shape_.functions)) % shape_.functions);
        next_redeploy += std::exponential_distribution<double>(redeploy_rate)(rng_);
      }
      while (next_scan < t) {
        Scan(next_scan);
        next_scan += std::exponential_distribution<double>(scan_rate)(rng_);
      }
      double rate = mean * (1 - amplitude * std::cos(2 * kPi * t / kDay));
      if (Uniform(0, peak) >= rate) continue;
      uint32_t f = function_rank(rng_);
      trace_.starts.push_back({t, f, image_of_[f]});
    }
  }

  PaperTraceShape shape_;
  std::mt19937_64 rng_;
  Trace trace_;
  std::vector<Base> bases_;
  std::vector<uint32_t> image_of_;  // by function: its current image
  uint64_t next_content_ = 1;
  uint64_t versions_ = 0;
  uint32_t scan_function_ = 0;  // 0 until the first scan
  uint64_t scans_ = 0;
};

}  // namespace

Trace GeneratePaperTrace(const PaperTraceShape& shape) { return Generator(shape).Run(true); }

Trace GeneratePaperImages(const PaperTraceShape& shape) { return Generator(shape).Run(false); }

Trace GenerateBurstTrace(const PaperTraceShape& images, const BurstShape& burst) {
  PaperTraceShape one = images;
  one.functions = 1;
  Trace trace = GeneratePaperImages(one);
  // During the ramp, n(t) = peak t^2 / (2 ramp) starts have happened: the
  // i-th is at sqrt(2 i ramp / peak).
  double peak = burst.peak_per_second, ramp = burst.ramp_seconds;
  auto in_ramp = static_cast<uint64_t>(peak * ramp / 2);
  for (uint64_t i = 0; i < in_ramp; ++i) {
    trace.starts.push_back({std::sqrt(2.0 * static_cast<double>(i) * ramp / peak), 0, 0});
  }
  auto held = static_cast<uint64_t>(peak * burst.hold_seconds);
  for (uint64_t i = 0; i < held; ++i) {
    trace.starts.push_back({ramp + static_cast<double>(i) / peak, 0, 0});
  }
  return trace;
}

}  // namespace lode::sim
