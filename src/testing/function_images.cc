#include "testing/function_images.h"

#include "testing/process.h"

namespace lode::testing {
namespace {

constexpr const char* kBootstrap = R"SH(#!/bin/sh
# A custom Lambda runtime: the Runtime API by hand, with curl.
set -u
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
if [ "${INIT_ERROR:-}" = 1 ]; then
  curl -sS -X POST "$api/init/error" -H 'Lambda-Runtime-Function-Error-Type: Init.Failed' \
    -d '{"errorMessage":"init failed on purpose","errorType":"Init.Failed"}' >/dev/null
  exit 1
fi
[ "${INIT_EXIT:-}" = 1 ] && { echo "init exits on purpose" >&2; exit 3; }
[ "${INIT_HANG:-}" = 1 ] && while true; do sleep 1; done
export SANDBOX_ID=$(cat /proc/sys/kernel/random/uuid)
echo "runtime initialized in sandbox $SANDBOX_ID"
if [ "${AWS_LAMBDA_INITIALIZATION_TYPE:-}" = snap-start ]; then
  # SnapStart runtime hooks: before the snapshot, then after each restore.
  echo $(( $(cat /tmp/before 2>/dev/null || echo 0) + 1 )) > /tmp/before
  curl -sS -o /dev/null --fail "$api/restore/next" || exit 1
  echo $(( $(cat /tmp/restores 2>/dev/null || echo 0) + 1 )) > /tmp/restores
  if [ "${RESTORE_ERROR:-}" = 1 ]; then
    curl -sS -X POST "$api/restore/error" -H 'Lambda-Runtime-Function-Error-Type: Restore.Failed' \
      -d '{"errorMessage":"the after-restore hook failed on purpose","errorType":"Restore.Failed"}' >/dev/null
    exit 1
  fi
fi
headers=/tmp/headers
while true; do
  curl -sS -D "$headers" -o /tmp/event "$api/invocation/next" || exit 1
  id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$headers" | tr -d '\r' | cut -d' ' -f2)
  export REQUEST_ID="$id" DEADLINE_MS=$(grep -i '^Lambda-Runtime-Deadline-Ms:' "$headers" | tr -d '\r' | cut -d' ' -f2)
  rm -f /tmp/handler-error
  python3 "$LAMBDA_TASK_ROOT/handler.py" /tmp/event > /tmp/response
  status=$?
  if [ $status = 0 ]; then
    curl -sS -X POST "$api/invocation/$id/response" --data-binary @/tmp/response >/dev/null
  elif [ $status = 86 ]; then
    echo "the runtime crashes on purpose" >&2
    exit 86
  else
    msg=$(tail -n 1 /tmp/handler-error 2>/dev/null | tr -d '"\\')
    curl -sS -X POST "$api/invocation/$id/error" -H 'Lambda-Runtime-Function-Error-Type: Handler.Failed' \
      --data-binary "{\"errorMessage\":\"$msg\",\"errorType\":\"Handler.Failed\",\"stackTrace\":[]}" >/dev/null
  fi
done
)SH";

constexpr const char* kHandler = R"PY(import json, os, sys, time, urllib.request

event = json.load(open(sys.argv[1]))
action = event.get("action", "echo") if isinstance(event, dict) else "echo"
count = int(open("/tmp/count").read()) + 1 if os.path.exists("/tmp/count") else 1
open("/tmp/count", "w").write(str(count))
print(f"handling {action} #{count} in {os.environ['SANDBOX_ID']}", file=sys.stderr)
def counter(name):
    return int(open("/tmp/" + name).read()) if os.path.exists("/tmp/" + name) else 0
answer = {"event": event, "sandbox": os.environ["SANDBOX_ID"], "count": count,
          "request_id": os.environ["REQUEST_ID"], "random": os.urandom(16).hex(),
          "before_snapshot": counter("before"), "restores": counter("restores")}
if action == "env":
    answer = dict(os.environ)
elif action == "error":
    print("the handler fails on purpose", file=sys.stderr)
    open("/tmp/handler-error", "w").write("the handler failed on purpose\n")
    sys.exit(1)
elif action == "sleep":
    time.sleep(float(event["seconds"]))
elif action == "crash":
    sys.exit(86)  # the runtime exits without answering
elif action == "flood":
    line = "x" * 1023 + "\n"
    for _ in range(int(event["mib"]) * 1024):
        sys.stderr.write(line)
elif action == "fetch":
    try:
        with urllib.request.urlopen(event["url"], timeout=5) as r:
            answer = {"status": r.status, "body": r.read().decode()}
    except Exception as e:
        answer = {"failed": str(e)}
elif action == "big":
    answer = {"data": "y" * int(event["bytes"])}
elif action == "post":
    url = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + event["path"]
    request = urllib.request.Request(url, data=event["body"].encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            answer = {"status": r.status}
    except urllib.error.HTTPError as e:
        answer = {"status": e.code, "body": e.read().decode()}
json.dump(answer, sys.stdout)
)PY";

constexpr const char* kNodeHandler = R"JS(import { randomUUID } from "node:crypto";

const sandbox = randomUUID();
let count = 0;
console.log(`initialized in sandbox ${sandbox}`);

export const handler = async (event, context) => {
  count += 1;
  const action = (event && event.action) || "echo";
  if (action === "env") return process.env;
  if (action === "error") throw new Error("the handler failed on purpose");
  if (action === "sleep") await new Promise((done) => setTimeout(done, event.ms));
  return { event, sandbox, count, request_id: context.awsRequestId,
           function_arn: context.invokedFunctionArn, remaining_ms: context.getRemainingTimeInMillis() };
};
)JS";

constexpr const char* kEchoRuntime = R"PY(#!/usr/bin/python3
# The smallest Lambda runtime: the Runtime API over one keep-alive
# connection, every event answered with itself, nothing started per event.
# (http.client sends a request's headers and body in one segment.)
import http.client, os

api = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    api.request("GET", "/2018-06-01/runtime/invocation/next")
    event = api.getresponse()
    body = event.read()
    request_id = event.getheader("Lambda-Runtime-Aws-Request-Id")
    api.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=body)
    api.getresponse().read()
)PY";

// The Debian root file system in `rootfs_tar`, and `function` over it.
ImageSpec OnRootfs(const std::string& rootfs_tar, LayerBuilder& function) {
  ImageSpec spec;
  spec.layers.push_back(LayerBuilder().CopyTar(rootfs_tar).Finish());
  spec.layers.push_back(function.Finish());
  return spec;
}

}  // namespace

std::string CachedNodeRootfs() {
  std::string tar = TestCacheDir() + "/debian-bookworm-lambda-node.tar";
  std::string script = std::string(LODE_TEST_SOURCE_DIR) + "/scripts/lambda-node-rootfs.sh";
  CommandResult r = RunCommand("bash " + ShellQuote(script) + " " + ShellQuote(tar));
  return r.exit_code == 0 ? tar : "";
}

ImageSpec NodeFunctionImage(const std::string& rootfs_tar) {
  LayerBuilder function;
  function.Dir("var/task", {.mode = 0755});
  function.File("var/task/index.mjs", kNodeHandler);
  ImageSpec spec = OnRootfs(rootfs_tar, function);
  spec.entrypoint = {"/usr/bin/node", "/opt/ric/node_modules/aws-lambda-ric/bin/index.mjs"};
  spec.cmd = {"index.handler"};
  spec.working_dir = "/var/task";
  return spec;
}

std::string CachedCurlRootfs() {
  std::string tar = TestCacheDir() + "/debian-bookworm-python3-curl.tar";
  std::string script = std::string(LODE_TEST_SOURCE_DIR) + "/scripts/debian-rootfs.sh";
  CommandResult r = RunCommand("bash " + ShellQuote(script) + " " + ShellQuote(tar) + " curl");
  return r.exit_code == 0 ? tar : "";
}

ImageSpec BootstrapFunctionImage(const std::string& rootfs_tar) {
  LayerBuilder function;
  function.Dir("var/runtime", {.mode = 0755});
  function.File("var/runtime/bootstrap", kBootstrap, {.mode = 0755});
  function.Dir("var/task", {.mode = 0755});
  function.File("var/task/handler.py", kHandler);
  ImageSpec spec = OnRootfs(rootfs_tar, function);
  spec.entrypoint = {"/var/runtime/bootstrap"};
  spec.cmd = {"handler.main"};
  spec.working_dir = "/var/task";
  return spec;
}

ImageSpec EchoRuntimeImage(const std::string& rootfs_tar) {
  LayerBuilder function;
  function.Dir("var/runtime", {.mode = 0755});
  function.File("var/runtime/bootstrap", kEchoRuntime, {.mode = 0755});
  ImageSpec spec = OnRootfs(rootfs_tar, function);
  spec.entrypoint = {"/var/runtime/bootstrap"};
  return spec;
}

}  // namespace lode::testing
