// lode-testgen: writes the test images (for tests, benchmarks and the README
// demo) as OCI layouts or docker-archive tarballs.
#include <CLI/CLI.hpp>
#include <clocale>
#include <cstdio>

#include "testing/debian_image.h"
#include "testing/function_images.h"
#include "testing/large_image.h"
#include "testing/rules_image.h"

namespace {

lode::testing::TestCompression ParseCompression(const std::string& s) {
  if (s == "gzip") return lode::testing::TestCompression::kGzip;
  if (s == "zstd") return lode::testing::TestCompression::kZstd;
  if (s == "none") return lode::testing::TestCompression::kNone;
  throw CLI::ValidationError("--compression", "gzip, zstd or none");
}

void Emit(const lode::testing::ImageSpec& spec, const std::string& out,
          const std::string& compression, const std::string& docker_archive) {
  if (!out.empty()) lode::testing::WriteOciLayout(out, spec, ParseCompression(compression));
  if (!docker_archive.empty()) lode::testing::WriteDockerArchive(docker_archive, spec);
}

}  // namespace

int main(int argc, char** argv) {
  std::setlocale(LC_CTYPE, "C.UTF-8");
  CLI::App app{"lode-testgen: generate test images"};
  app.require_subcommand(1);
  std::string out, compression = "gzip", docker_archive, rootfs;
  lode::testing::RulesImageOptions rules;

  CLI::App* r = app.add_subcommand("rules", "the layer-rule coverage image");
  r->add_option("--wide", rules.wide_entries, "files in the wide directory");
  r->add_option("--sparse-size", rules.sparse_size, "logical size of the sparse file");

  CLI::App* d = app.add_subcommand("debian", "a Debian rootfs tarball plus two application layers");
  d->add_option("--rootfs", rootfs, "rootfs tarball from mmdebstrap")->required();
  int debian_version = 1;
  d->add_option("--version", debian_version, "release of the application: 1, 2 or 3")
      ->check(CLI::Range(1, 3))
      ->capture_default_str();

  lode::testing::LargeImageOptions large;
  CLI::App* l =
      app.add_subcommand("large", "many small files of compressible content, three layers");
  l->add_option("--bytes", large.total_bytes, "file content in all layers")->capture_default_str();

  CLI::App* b = app.add_subcommand("function-bootstrap",
                                   "a Lambda function with a custom runtime (a shell bootstrap)");
  b->add_option("--rootfs", rootfs, "rootfs tarball from mmdebstrap, with python3 and curl")
      ->required();

  CLI::App* n = app.add_subcommand(
      "function-node", "a Lambda function in Node.js with AWS's runtime interface client");
  n->add_option("--rootfs", rootfs, "rootfs tarball from scripts/lambda-node-rootfs.sh")
      ->required();

  CLI::App* e = app.add_subcommand(
      "function-echo", "a Lambda function whose runtime (python3) answers every event with itself");
  e->add_option("--rootfs", rootfs, "rootfs tarball from mmdebstrap, with python3")->required();

  for (CLI::App* sub : {r, d, l, b, n, e}) {
    sub->add_option("-o,--oci", out, "OCI layout directory to write");
    sub->add_option("--compression", compression, "gzip, zstd or none")->capture_default_str();
    sub->add_option("--docker-archive", docker_archive, "also write a docker-archive tarball");
  }
  CLI11_PARSE(app, argc, argv);
  try {
    if (r->parsed()) Emit(lode::testing::BuildRulesImage(rules), out, compression, docker_archive);
    if (d->parsed())
      Emit(lode::testing::BuildDebianImage(rootfs, debian_version), out, compression,
           docker_archive);
    if (l->parsed()) Emit(lode::testing::BuildLargeImage(large), out, compression, docker_archive);
    if (b->parsed()) {
      Emit(lode::testing::BootstrapFunctionImage(rootfs), out, compression, docker_archive);
    }
    if (n->parsed()) {
      Emit(lode::testing::NodeFunctionImage(rootfs), out, compression, docker_archive);
    }
    if (e->parsed()) {
      Emit(lode::testing::EchoRuntimeImage(rootfs), out, compression, docker_archive);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lode-testgen: %s\n", e.what());
    return 1;
  }
  return 0;
}
