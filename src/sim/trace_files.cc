#include "sim/trace_files.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "util/file.h"

namespace lode::sim {
namespace {

using nlohmann::json;
constexpr int kFormat = 1;

Status Bad(const std::string& file, size_t line, const std::string& why) {
  return Status::InvalidArgument(file + ":" + std::to_string(line) + ": " + why);
}

// A name that fits a CSV field and a line.
bool PlainName(const std::string& name) {
  return !name.empty() && name.find_first_of(",\n\r\"") == std::string::npos;
}

Status ReadImages(const std::string& path, Trace& trace,
                  std::unordered_map<std::string, uint32_t>& by_name) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no " + path);
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    Image image;
    try {
      if (!j.is_object()) throw json::type_error::create(302, "not an object", nullptr);
      image.name = j.at("name").get<std::string>();
      image.chunks = j.at("chunks").get<uint64_t>();
      image.start_set = j.at("start_set").get<std::vector<uint64_t>>();
    } catch (const json::exception&) {
      return Bad(path, n, "an image is {\"name\", \"chunks\", \"start_set\": [content ids]}");
    }
    if (!PlainName(image.name)) return Bad(path, n, "image names have no commas or quotes");
    if (!by_name.emplace(image.name, static_cast<uint32_t>(trace.images.size())).second) {
      return Bad(path, n, "image " + image.name + " again");
    }
    trace.images.push_back(std::move(image));
  }
  return Status::Ok();
}

// A start line's fields after time_s: function, image and, with a tenant
// column, the tenant.
struct StartFields {
  std::string function, image, tenant;
};

Status ReadStarts(const std::string& path, Trace& trace,
                  const std::unordered_map<std::string, uint32_t>& images) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no " + path);
  std::string line;
  std::unordered_map<std::string, uint32_t> functions, tenants;
  if (!std::getline(in, line) ||
      (line != "time_s,function,image" && line != "time_s,function,image,tenant")) {
    return Bad(path, 1, "the header is time_s,function,image[,tenant]");
  }
  bool with_tenant = line.ends_with(",tenant");
  const char* shape =
      with_tenant ? "a start is time_s,function,image,tenant" : "a start is time_s,function,image";
  for (size_t n = 2; std::getline(in, line); ++n) {
    size_t a = line.find(','), b = a == std::string::npos ? a : line.find(',', a + 1);
    size_t c = b == std::string::npos || !with_tenant ? std::string::npos : line.find(',', b + 1);
    if (b == std::string::npos || (with_tenant && c == std::string::npos))
      return Bad(path, n, shape);
    Start s;
    auto [end, ec] = std::from_chars(line.data(), line.data() + a, s.time_s);
    if (ec != std::errc() || end != line.data() + a || !(s.time_s >= 0)) {
      return Bad(path, n, "time_s is seconds from the trace's start");
    }
    if (!trace.starts.empty() && s.time_s < trace.starts.back().time_s) {
      return Bad(path, n, "starts are in time order");
    }
    StartFields f{line.substr(a + 1, b - a - 1), line.substr(b + 1, c - b - 1),
                  with_tenant ? line.substr(c + 1) : "t0"};
    auto found = images.find(f.image);
    if (found == images.end()) return Bad(path, n, "no image " + f.image + " in images.jsonl");
    if (f.function.empty() || f.tenant.empty()) return Bad(path, n, "no function or tenant");
    auto [t, new_tenant] = tenants.try_emplace(f.tenant, static_cast<uint32_t>(tenants.size()));
    if (new_tenant) trace.tenants.push_back(f.tenant);
    auto [fn, added] = functions.try_emplace(f.function, static_cast<uint32_t>(functions.size()));
    if (added) {
      trace.functions.push_back(f.function);
      trace.function_tenant.push_back(t->second);
    } else if (trace.function_tenant[fn->second] != t->second) {
      return Bad(path, n, "function " + f.function + " of two tenants");
    }
    s.function = fn->second;
    s.image = found->second;
    trace.starts.push_back(s);
  }
  return Status::Ok();
}

}  // namespace

Status WriteTrace(const Trace& trace, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("create " + dir + ": " + ec.message());
  for (const Image& image : trace.images) {
    if (!PlainName(image.name)) return Status::InvalidArgument("image name " + image.name);
  }
  for (const std::string& t : trace.tenants) {
    if (!PlainName(t)) return Status::InvalidArgument("tenant name " + t);
  }
  for (const std::string& f : trace.functions) {
    if (!PlainName(f)) return Status::InvalidArgument("function name " + f);
  }
  std::string images;
  for (const Image& i : trace.images) images += ImageLine(i) + "\n";
  std::string starts = "time_s,function,image,tenant\n";
  char time[32];
  for (const Start& s : trace.starts) {
    auto [end, _] = std::to_chars(time, time + sizeof(time), s.time_s);
    starts.append(time, end);
    starts += "," + trace.functions[s.function] + "," + trace.images[s.image].name + "," +
              TenantOf(trace, s.function) + "\n";
  }
  auto unsynced = AtomicFile::Durability::kUnsynced;
  LODE_RETURN_IF_ERROR(WriteFileAtomically(dir + "/images.jsonl", images, unsynced));
  LODE_RETURN_IF_ERROR(WriteFileAtomically(dir + "/starts.csv", starts, unsynced));
  return WriteFileAtomically(
      dir + "/trace.json",
      json{{"lode_sim_trace", kFormat}, {"chunk_bytes", trace.chunk_bytes}}.dump() + "\n",
      unsynced);
}

std::string ImageLine(const Image& i) {
  return json{{"name", i.name}, {"chunks", i.chunks}, {"start_set", i.start_set}}.dump();
}

Result<std::vector<Image>> ReadImages(const std::string& path) {
  Trace trace;
  std::unordered_map<std::string, uint32_t> by_name;
  LODE_RETURN_IF_ERROR(ReadImages(path, trace, by_name));
  if (trace.images.empty()) return Status::InvalidArgument(path + ": no image");
  return std::move(trace.images);
}

Result<Trace> ReadTrace(const std::string& dir) {
  Trace trace;
  LODE_ASSIGN_OR_RETURN(std::string meta_text, ReadFileToString(dir + "/trace.json"));
  json meta = json::parse(meta_text, nullptr, false);
  if (!meta.is_object() || meta.value("lode_sim_trace", 0) != kFormat ||
      !meta.contains("chunk_bytes") || !meta["chunk_bytes"].is_number_unsigned() ||
      meta["chunk_bytes"].get<uint64_t>() == 0) {
    return Status::InvalidArgument(dir + "/trace.json: not a lode sim trace of format 1");
  }
  trace.chunk_bytes = meta["chunk_bytes"].get<uint64_t>();
  std::unordered_map<std::string, uint32_t> images;
  LODE_RETURN_IF_ERROR(ReadImages(dir + "/images.jsonl", trace, images));
  LODE_RETURN_IF_ERROR(ReadStarts(dir + "/starts.csv", trace, images));
  return trace;
}

}  // namespace lode::sim
