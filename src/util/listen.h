// Listening TCP sockets for lode's HTTP endpoints (metrics, the function
// host).
#pragma once

#include <string>

#include "util/file.h"
#include "util/status.h"

namespace lode {

// Binds and listens on `address`: "HOST:PORT", "[IPv6]:PORT", or ":PORT"
// for every interface; port 0 picks a free one. Errors name `what`.
Result<UniqueFd> ListenTcp(const std::string& address, const std::string& what);

// The port a bound socket listens on.
int LocalPort(int fd);

}  // namespace lode
