#include "image/reference.h"

#include <regex>

namespace lode::image {
namespace {

constexpr std::string_view kDockerHub = "docker.io";

// The distribution reference grammar (docker/distribution/reference).
const std::regex& RepositoryComponent() {
  static const std::regex re("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
  return re;
}
const std::regex& TagPattern() {
  static const std::regex re("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  return re;
}
const std::regex& HostPattern() {
  static const std::regex re(
      "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
      "|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?");
  return re;
}

bool LooksLikeHost(const std::string& component) {
  return component.find_first_of(".:") != std::string::npos || component == "localhost" ||
         component.starts_with("[");
}

std::string NormalizeRegistry(const std::string& host) {
  if (host == "index.docker.io" || host == "registry-1.docker.io") return std::string(kDockerHub);
  return host;
}

Status CheckRepository(const std::string& repository, const std::string& name) {
  if (repository.empty() || repository.size() > 255) {
    return Status::InvalidArgument("image name '" + name + "' has no valid repository");
  }
  size_t start = 0;
  while (true) {
    size_t slash = repository.find('/', start);
    std::string part = repository.substr(start, slash - start);
    if (!std::regex_match(part, RepositoryComponent())) {
      return Status::InvalidArgument("image name '" + name + "': repository component '" + part +
                                     "' must be lower-case letters, digits and . _ -");
    }
    if (slash == std::string::npos) return Status::Ok();
    start = slash + 1;
  }
}

}  // namespace

std::string RegistryReference::ApiHost() const {
  return registry == kDockerHub ? "registry-1.docker.io" : registry;
}

std::string RegistryReference::ManifestReference() const {
  return digest ? digest->ToString() : tag;
}

std::string RegistryReference::ToString() const {
  std::string out = "docker://" + registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->ToString();
  return out;
}

Result<RegistryReference> ParseRegistryReference(const std::string& name) {
  RegistryReference ref;
  std::string rest = name;
  if (size_t at = rest.find('@'); at != std::string::npos) {
    Result<Digest> digest = ParseDigest(rest.substr(at + 1));
    if (!digest.ok()) {
      return Status::InvalidArgument("image name '" + name + "': " + digest.status().message());
    }
    ref.digest = *digest;
    rest.resize(at);
  }
  size_t slash = rest.find('/');
  if (slash != std::string::npos && LooksLikeHost(rest.substr(0, slash))) {
    ref.registry = NormalizeRegistry(rest.substr(0, slash));
    if (!std::regex_match(ref.registry, HostPattern())) {
      return Status::InvalidArgument("image name '" + name + "': bad registry host '" +
                                     ref.registry + "'");
    }
    rest = rest.substr(slash + 1);
  } else {
    ref.registry = kDockerHub;
  }
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
    ref.tag = rest.substr(colon + 1);
    rest.resize(colon);
    if (!std::regex_match(ref.tag, TagPattern())) {
      return Status::InvalidArgument("image name '" + name + "': bad tag '" + ref.tag + "'");
    }
  }
  if (ref.registry == kDockerHub && rest.find('/') == std::string::npos) rest = "library/" + rest;
  LODE_RETURN_IF_ERROR(CheckRepository(rest, name));
  ref.repository = rest;
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  return ref;
}

Result<ImageReference> ParseImageReference(const std::string& text) {
  ImageReference out;
  if (text.starts_with("docker://")) {
    out.transport = Transport::kRegistry;
    LODE_ASSIGN_OR_RETURN(out.registry, ParseRegistryReference(text.substr(9)));
    return out;
  }
  if (text.starts_with("oci:")) {
    out.transport = Transport::kOciLayout;
    std::string rest = text.substr(4);
    size_t colon = rest.find(':');
    out.path = rest.substr(0, colon);
    if (colon != std::string::npos) out.ref = rest.substr(colon + 1);
  } else if (text.starts_with("docker-archive:")) {
    out.transport = Transport::kDockerArchive;
    out.path = text.substr(15);
  } else if (text.starts_with("docker:")) {
    return Status::InvalidArgument("image '" + text + "': registry images are docker://NAME");
  } else {
    out.path = text;
  }
  if (out.path.empty()) return Status::InvalidArgument("image '" + text + "' names no path");
  return out;
}

bool IsLoopbackHost(const std::string& host_port) {
  std::string host = host_port;
  if (host.starts_with("[")) {
    host = host.substr(1, host.find(']') - 1);
    return host == "::1";
  }
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host.starts_with("127.");
}

}  // namespace lode::image
