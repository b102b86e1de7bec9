#include "testing/debian_image.h"

namespace lode::testing {

ImageSpec BuildDebianImage(const std::string& rootfs_tar) {
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

  spec.entrypoint = {"/usr/bin/python3", "/opt/app/main.py"};
  return spec;
}

}  // namespace lode::testing
