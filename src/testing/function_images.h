// Lambda function images for tests and benchmarks, built on Debian: a
// custom runtime (a shell `bootstrap` speaking the Runtime API with curl)
// whose handler does what each event asks (echo, fail, sleep, crash,
// flood its output, fetch a URL, answer big), so every behaviour of the
// function host can be driven from an invocation.
#pragma once

#include <string>

#include "testing/layer_builder.h"

namespace lode::testing {

// A Debian bookworm minbase rootfs with python3 and curl, built once into
// the test cache; empty when building it failed.
std::string CachedCurlRootfs();

// The custom-runtime image: the rootfs, then /var/runtime/bootstrap
// (entrypoint) and /var/task/handler.py; cmd "handler.main".
//
// Events are JSON objects; "action" says what the handler does:
//   echo (default)  {"event": ..., "sandbox": id, "count": n} (n counts the
//                   invocations this sandbox served)
//   env             the environment
//   error           fails: the runtime posts {"errorType":"Handler.Failed"}
//   sleep           sleeps "seconds", then echoes
//   crash           the runtime exits (status 86) without answering
//   flood           writes "mib" MiB to stderr, then echoes
//   fetch           GETs "url": {"status": ..., "body": ...} or {"failed": why}
//   big             answers "bytes" bytes of JSON
//   post            POSTs "body" to the Runtime API path "path": {"status": ...}
// Environment (the function's --env) shapes initialization: INIT_ERROR=1
// posts an init error, INIT_EXIT=1 exits with status 3, INIT_HANG=1 never
// asks for an event.
ImageSpec BootstrapFunctionImage(const std::string& rootfs_tar);

// Debian with nodejs and AWS's Node.js runtime interface client
// (aws-lambda-ric 3.3.0 from npm), built once by
// scripts/lambda-node-rootfs.sh into the test cache; empty on failure.
std::string CachedNodeRootfs();

// A Node.js function as AWS's base images hold one: the runtime interface
// client as entrypoint, cmd "index.handler", /var/task/index.mjs. Its
// handler answers {"event", "sandbox", "count"} (echo), the environment
// (env), throws (error: errorType "Error"), or sleeps "ms" (sleep).
ImageSpec NodeFunctionImage(const std::string& rootfs_tar);

// The smallest runtime, for measuring the invocation path without a
// runtime's own cost: python3's http.client speaking the Runtime API over
// one keep-alive connection, answering every event with itself. A rootfs
// with python3 (CachedCurlRootfs).
ImageSpec EchoRuntimeImage(const std::string& rootfs_tar);

}  // namespace lode::testing
