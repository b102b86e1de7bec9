// Traces on disk, so that `lode sim` can replay traces made elsewhere and
// write the ones it generates (docs/formats/sim.md, "Trace files"): a
// directory with trace.json (format, chunk size), images.jsonl (one image
// per line: name, chunks, start set) and starts.csv (time_s,function,image
// by name, in time order).
#pragma once

#include <string>
#include <vector>

#include "sim/trace.h"
#include "util/status.h"

namespace lode::sim {

// Writes `trace` into directory `dir` (created); each file is written to
// a temporary name and renamed.
Status WriteTrace(const Trace& trace, const std::string& dir);
// InvalidArgument naming the file and line for anything malformed.
Result<Trace> ReadTrace(const std::string& dir);

// One line of images.jsonl (no newline), and a file of them alone: images
// recorded from real ones (`lode inspect --sim-image`) to build a
// generated trace on (PaperTraceShape::base_images).
std::string ImageLine(const Image& image);
Result<std::vector<Image>> ReadImages(const std::string& path);

}  // namespace lode::sim
