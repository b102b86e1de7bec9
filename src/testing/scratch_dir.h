// A temporary directory removed with everything in it on destruction.
#pragma once

#include <string>

namespace lode::testing {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag = "lode");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace lode::testing
