// Unix-domain socket addresses.
#pragma once

#include <sys/un.h>

#include <string>

#include "util/status.h"

namespace lode {

// The address of the socket file at `path`; InvalidArgument if too long.
Result<sockaddr_un> UnixAddress(const std::string& path);

}  // namespace lode
