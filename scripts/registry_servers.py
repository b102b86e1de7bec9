#!/usr/bin/env python3
"""Helper servers for the registry test fixture (scripts/registry.sh).

Debian ships no token server, no S3-like blob origin that distribution's
redirect middleware could point at, and nothing that breaks a registry on
purpose. These three small servers (stdlib only, plus the openssl CLI for
RS256) fill those gaps; distribution itself does the real registry work.

  token     issues JWTs the registry's `auth: token` verifier accepts
  blobhost  serves a registry's storage root like a presigned-URL origin:
            Range works, a request carrying Authorization gets 400 (as S3)
  proxy     forwards to a registry, tampering with answers per a mode file

Each server binds 127.0.0.1:0 and writes the port it got to --port-file.
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler, args):
    server = Server(("127.0.0.1", args.port), handler)
    server.args = args
    server.lock = threading.Lock()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


def log_line(path, text):
    with open(path, "a") as f:
        f.write(text + "\n")


# ---------------------------------------------------------------- token


class TokenHandler(http.server.BaseHTTPRequestHandler):
    """GET /token?service=&scope=... (Basic auth or anonymous) and
    POST /token (grant_type=password or refresh_token). Users come from
    --users (user:password lines). Policy: anyone may pull public/*; a known
    user may pull and push everything; other scopes are granted empty."""

    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def users(self):
        out = {}
        with open(self.server.args.users) as f:
            for line in f:
                if ":" in line:
                    user, password = line.rstrip("\n").split(":", 1)
                    out[user] = password
        return out

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def identify_basic(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return ""
        try:
            user, password = base64.b64decode(header[6:]).decode().split(":", 1)
        except Exception:
            return None
        return user if self.users().get(user) == password else None

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        user = self.identify_basic()
        self.issue(user, query.get("scope", []), query.get("service", [""])[0], "GET")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        grant = form.get("grant_type", [""])[0]
        user = None
        if grant == "password":
            name = form.get("username", [""])[0]
            if self.users().get(name) == form.get("password", [None])[0]:
                user = name
        elif grant == "refresh_token":
            token = form.get("refresh_token", [""])[0]
            if token == "lode-refresh-" + "lode":
                user = "lode"
        scopes = " ".join(form.get("scope", [])).split()
        self.issue(user, scopes, form.get("service", [""])[0], "POST " + grant)

    def issue(self, user, scopes, service, how):
        args = self.server.args
        log_line(args.log, "%s user=%s scope=%s" % (how, user if user else "-", ",".join(scopes)))
        if user is None:
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
            return
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) != 3 or parts[0] != "repository":
                continue
            wanted = parts[2].split(",")
            allowed = wanted if user else [a for a in wanted if a == "pull" and
                                            parts[1].startswith("public/")]
            if allowed:
                access.append({"type": "repository", "name": parts[1], "actions": allowed})
        lifetime = int(open(args.expires_file).read().strip()) if os.path.exists(
            args.expires_file) else 300
        now = int(time.time())
        claims = {"iss": args.issuer, "aud": service or args.service, "sub": user or "",
                  "iat": now, "nbf": now - 5, "exp": now + lifetime,
                  "jti": "%d-%d" % (now, threading.get_ident()), "access": access}
        header = {"typ": "JWT", "alg": "RS256", "x5c": [args.cert_der]}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(
            json.dumps(claims).encode())
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key],
                                   input=signing_input.encode(), capture_output=True,
                                   check=True).stdout
        token = signing_input + "." + b64url(signature)
        # Claims a normal lifetime even when the token is short-lived, so a
        # client has to notice expiry from the registry's 401, as with a
        # clock skewed against it.
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


# ---------------------------------------------------------------- blobhost


class BlobHostHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def handle_one(self, with_body):
        auth = "present" if "Authorization" in self.headers else "absent"
        rng = self.headers.get("Range", "-")
        log_line(self.server.args.log, "%s %s authorization=%s range=%s" %
                 (self.command, self.path, auth, rng))
        if auth == "present":
            body = (b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism "
                    b"allowed</Message></Error>")
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)
            return
        path = os.path.normpath(urllib.parse.unquote(urllib.parse.urlsplit(self.path).path))
        full = os.path.join(self.server.args.root, path.lstrip("/"))
        if not full.startswith(self.server.args.root) or not os.path.isfile(full):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = os.path.getsize(full)
        start, end = 0, size - 1
        status = 200
        if rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first)
            end = int(last) if last else size - 1
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if with_body:
            with open(full, "rb") as f:
                f.seek(start)
                self.wfile.write(f.read(end - start + 1))

    def do_GET(self):
        self.handle_one(True)

    def do_HEAD(self):
        self.handle_one(False)


# ---------------------------------------------------------------- proxy

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    """Modes (first line of --mode-file, read on every request):
      pass | corrupt-blob | truncate-blob | short-blob | 500-once | drop-once
      | swap-manifest FILE | delay SECONDS | throttle BYTES_PER_SECOND
    Blob modes act on GETs of /v2/.../blobs/; *-once modes reset to pass."""

    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def mode(self):
        try:
            words = open(self.server.args.mode_file).read().split()
        except FileNotFoundError:
            words = []
        return words or ["pass"]

    def consume_once(self, name):
        with self.server.lock:
            if self.mode()[0] != name:
                return False
            with open(self.server.args.mode_file, "w") as f:
                f.write("pass\n")
            return True

    def forward(self):
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.args.upstream_port,
                                              timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else None
        upstream.request(self.command, self.path, body=body, headers=headers)
        return upstream.getresponse()

    def send_head(self, status, headers, length):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def handle_any(self):
        mode = self.mode()
        is_blob = "/blobs/sha256:" in self.path and self.command == "GET"
        is_manifest = "/manifests/" in self.path and self.command == "GET"
        log_line(self.server.args.log, "%s %s range=%s mode=%s" % (
            self.command, self.path, self.headers.get("Range", "-"), mode[0]))
        if mode[0] == "delay" and is_blob:
            time.sleep(float(mode[1]))
        if is_blob and mode[0] == "500-once" and self.consume_once("500-once"):
            self.send_head(500, [], 0)
            return
        response = self.forward()
        headers = response.getheaders()
        if self.command == "HEAD":
            self.send_head(response.status, headers, int(response.getheader("Content-Length", 0)))
            return
        if is_blob and response.status in (200, 206) and mode[0] == "throttle":
            self.send_head(response.status, headers, int(response.getheader("Content-Length")))
            rate = int(mode[1])
            while True:
                piece = response.read(max(1, rate // 10))
                if not piece:
                    return
                self.wfile.write(piece)
                self.wfile.flush()
                time.sleep(0.1)
        body = response.read()
        if is_manifest and mode[0] == "swap-manifest" and response.status == 200:
            body = open(mode[1], "rb").read()
        if is_blob and response.status in (200, 206) and len(body) > 1:
            if mode[0] == "corrupt-blob":
                middle = len(body) // 2
                body = body[:middle] + bytes([body[middle] ^ 0x55]) + body[middle + 1:]
            elif mode[0] == "short-blob":
                body = body[:len(body) // 2]
            elif mode[0] == "truncate-blob" or (mode[0] == "drop-once" and
                                                self.consume_once("drop-once")):
                self.send_head(response.status, headers, len(body))
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
        self.send_head(response.status, headers, len(body))
        self.wfile.write(body)

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="server", required=True)
    for name in ("token", "blobhost", "proxy"):
        p = sub.add_parser(name)
        p.add_argument("--port-file", required=True)
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--log", required=True)
    token = sub.choices["token"]
    token.add_argument("--users", required=True)
    token.add_argument("--key", required=True)
    token.add_argument("--cert", required=True)
    token.add_argument("--issuer", default="lode-token-issuer")
    token.add_argument("--service", default="lode-registry")
    token.add_argument("--expires-file", required=True)
    sub.choices["blobhost"].add_argument("--root", required=True)
    proxy = sub.choices["proxy"]
    proxy.add_argument("--upstream-port", type=int, required=True)
    proxy.add_argument("--mode-file", required=True)
    args = parser.parse_args()
    if args.server == "token":
        der = subprocess.run(["openssl", "x509", "-in", args.cert, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        args.cert_der = base64.b64encode(der).decode()
        serve(TokenHandler, args)
    elif args.server == "blobhost":
        args.root = os.path.realpath(args.root)
        serve(BlobHostHandler, args)
    else:
        serve(ProxyHandler, args)


if __name__ == "__main__":
    sys.exit(main())
