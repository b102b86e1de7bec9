// The guest init (guest_init.cc, a static binary) as embedded in lode at
// build time.
#pragma once

#include <cstdint>
#include <span>

namespace lode::vm {

std::span<const uint8_t> GuestInitBinary();

}  // namespace lode::vm
