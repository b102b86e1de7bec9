// The guest init's network setup: loopback always; with an address, the
// VM's one network interface, its default route and the files a program
// looks its resolver and host names up in. Runs in the guest (linked into
// the static init), on ioctls alone: the image needs no tools for it.
#pragma once

#include <string>

#include "util/status.h"
#include "vm/run_spec.h"

namespace lode::vm {

// Brings the interfaces up. With an address, also writes etc/resolv.conf
// and etc/hosts under `files_dir`, a directory the init lays over the
// image's root (the image is never changed).
Status ConfigureGuestNetwork(const GuestNetwork& network, const std::string& files_dir);

}  // namespace lode::vm
