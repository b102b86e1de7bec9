// Unix-domain socket addresses.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "util/file.h"
#include "util/status.h"

namespace lode {

// The address of the socket file at `path`; InvalidArgument if too long.
Result<sockaddr_un> UnixAddress(const std::string& path);

// A stream socket connected to `path`; Unavailable when nobody listens.
Result<UniqueFd> ConnectUnix(const std::string& path);

// A stream socket listening on `path`, replacing a stale socket file
// there, created with permissions `mode` (0600: the owner only).
Result<UniqueFd> ListenUnix(const std::string& path, mode_t mode, int backlog = 128);

// Writes all of `text` to a socket (no SIGPIPE); `what` names the peer in
// errors.
Status SendAll(int fd, std::string_view text, const std::string& what);

// Reads up to the first newline (or the peer closing) and returns the line
// without it. Unavailable when `timeout_ms` (not negative) passes first,
// InvalidArgument past `max_bytes`. Bytes after the newline are dropped:
// for protocols with one request in flight per connection.
Result<std::string> ReceiveLine(int fd, size_t max_bytes, int timeout_ms, const std::string& what);

}  // namespace lode
