#include "vm/guest_init_blob.h"

extern "C" const uint8_t lode_guest_init_start[];
extern "C" const uint8_t lode_guest_init_end[];

namespace lode::vm {

std::span<const uint8_t> GuestInitBinary() { return {lode_guest_init_start, lode_guest_init_end}; }

}  // namespace lode::vm
