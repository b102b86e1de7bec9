#include "testing/debian_image.h"

#include "testing/process.h"

namespace lode::testing {

namespace {

// Deterministic, compressible text standing in for a dependency's files.
std::string DependencyFile(int package, int file, int release) {
  std::string text;
  for (int line = 0; text.size() < (256u << 10); ++line) {
    text += "def f_" + std::to_string(package) + "_" + std::to_string(file) + "_" +
            std::to_string(line) + "(x):\n    return x * " +
            std::to_string((line * 7919 + release) % 104729) + "\n";
  }
  return text;
}

std::string DependenciesLayer(int release) {
  LayerBuilder deps;
  deps.Dir("opt/app/deps", {.mode = 0755});
  for (int package = 0; package < 8; ++package) {
    std::string dir = "opt/app/deps/pkg" + std::to_string(package);
    deps.Dir(dir, {.mode = 0755});
    // The update touches one package only.
    int package_release = package == 3 ? release : 1;
    for (int file = 0; file < 8; ++file) {
      deps.File(dir + "/m" + std::to_string(file) + ".py",
                DependencyFile(package, file, package_release));
    }
  }
  return deps.Finish();
}

}  // namespace

ImageSpec BuildDebianImage(const std::string& rootfs_tar, int version) {
  ImageSpec spec;
  spec.layers.push_back(LayerBuilder().CopyTar(rootfs_tar).Finish());

  LayerBuilder app;
  app.Whiteout("usr/share/doc");
  app.Whiteout("etc/issue.net");
  app.File("usr/lib/os-release", "PRETTY_NAME=\"lode test image\"\nID=debian\n");
  app.Dir("opt", {.mode = 0755});
  app.Dir("opt/app", {.mode = 0755});
  app.File(
      "opt/app/main.py",
      "import json, sys\nprint(json.dumps({'hello': 'lode', 'python': sys.version_info[0]}))\n",
      {.mode = 0755});
  spec.layers.push_back(app.Finish());

  LayerBuilder top;
  top.Opaque("var/cache/apt");
  top.File("var/cache/apt/note", "cache emptied by the top layer\n");
  top.File("etc/hostname", "lode\n");
  top.File("opt/app/config.json", "{\"mode\": \"test\"}\n");
  spec.layers.push_back(top.Finish());

  if (version >= 2) spec.layers.push_back(DependenciesLayer(version >= 3 ? 2 : 1));

  spec.entrypoint = {"/usr/bin/python3", "/opt/app/main.py"};
  return spec;
}

std::string CachedDebianRootfs() {
  std::string tar = TestCacheDir() + "/debian-bookworm-python3.tar";
  std::string script = std::string(LODE_TEST_SOURCE_DIR) + "/scripts/debian-rootfs.sh";
  CommandResult r = RunCommand("bash " + ShellQuote(script) + " " + ShellQuote(tar));
  return r.exit_code == 0 ? tar : "";
}

void PublishTestImage(const std::string& env, const std::string& dir, const ImageSpec& spec) {
  WriteOciLayout(dir + "/oci", spec, TestCompression::kGzip);
  RunCommand(env + LodeBinary() + " key create acme");
  RunCommand(env + LodeBinary() + " push " + ShellQuote(dir + "/oci") + " --tenant acme --tag deb");
  RunCommand(LodeBinary() + " flatten " + ShellQuote(dir + "/oci") + " -o " +
             ShellQuote(dir + "/deb.ext4"));
}

}  // namespace lode::testing
