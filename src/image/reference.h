// Image references in the transport syntax of skopeo and podman:
//
//   docker://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]   an image in a registry
//   oci:DIR[:REF]                                    an OCI image layout
//   docker-archive:FILE                              a `docker save` tarball
//   PATH                                             either local kind, sniffed
//
// Registry names normalize as docker does: a first component is a registry
// host only if it holds '.' or ':' or is "localhost"; otherwise the image is
// on Docker Hub ("docker.io", served by registry-1.docker.io) and a single
// component gets "library/". The tag defaults to "latest" unless a digest
// pins the image.
#pragma once

#include <optional>
#include <string>

#include "image/byte_source.h"
#include "util/status.h"

namespace lode::image {

struct RegistryReference {
  std::string registry;    // "docker.io", "127.0.0.1:5000", "ghcr.io"
  std::string repository;  // "library/debian"
  std::string tag;         // empty when pinned by digest alone
  std::optional<Digest> digest;

  // The host:port to send requests to (registry-1.docker.io for docker.io).
  std::string ApiHost() const;
  // The manifest reference: the digest when pinned, else the tag.
  std::string ManifestReference() const;
  // "docker://docker.io/library/debian:latest" (with "@sha256:..." when pinned).
  std::string ToString() const;
};

enum class Transport { kPath, kOciLayout, kDockerArchive, kRegistry };

struct ImageReference {
  Transport transport = Transport::kPath;
  std::string path;            // kPath, kOciLayout, kDockerArchive
  std::string ref;             // kOciLayout: the image's ref name, may be empty
  RegistryReference registry;  // kRegistry
};

// InvalidArgument with one line naming what is wrong.
Result<ImageReference> ParseImageReference(const std::string& text);
Result<RegistryReference> ParseRegistryReference(const std::string& name);

// True for localhost, 127.0.0.0/8 and ::1 (with or without a port).
bool IsLoopbackHost(const std::string& host_port);

}  // namespace lode::image
