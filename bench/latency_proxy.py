#!/usr/bin/env python3
"""An HTTP/1.1 forwarder that adds a fixed delay before every request, to
give a local object store the first-byte latency of a real one (this
machine's kernel has no netem).

  latency_proxy.py --upstream-port N --delay-ms MS --port-file FILE

Binds 127.0.0.1:0, writes its port to FILE, and forwards every request
(headers unchanged, so signatures over Host still verify) to 127.0.0.1:N
after MS milliseconds, on one kept-alive upstream connection per client
connection. TCP_NODELAY on both sides: a header write followed by a body
write must not wait for a delayed ACK.
"""
import argparse
import http.client
import http.server
import os
import socket
import time

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None

    def log_message(self, fmt, *a):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def forward(self):
        time.sleep(self.server.delay)
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if self.upstream is None:
            self.upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port,
                                                       timeout=60)
            self.upstream.connect()
            self.upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.upstream.request(self.command, self.path, body=body, headers=headers)
        response = self.upstream.getresponse()
        data = response.read()
        head = ["HTTP/1.1 %d %s" % (response.status, response.reason)]
        for k, v in response.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                head.append("%s: %s" % (k, v))
        length = response.getheader("Content-Length", "0") if self.command == "HEAD" else len(data)
        head.append("Content-Length: %s" % length)
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(payload + (data if self.command != "HEAD" else b""))

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = forward


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops SYNs when a client opens
    # dozens of connections at once, and each drop costs a 1 s retransmit.
    request_queue_size = 256


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.upstream_port = args.upstream_port
    server.delay = args.delay_ms / 1000
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
