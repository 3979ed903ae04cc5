#!/usr/bin/env python3
"""Stands in for `java -jar JAR server` in the boot rehearsal: a small HTTP app on $APP_PORT.

It refuses to start unless JAR (looked up under $BOOT_ROOT) is a readable file, answers /healthz
with 200, and answers every other request with JSON echoing the request line, the headers it
received and the SHA-256 of the jar it was started with.
"""

import hashlib
import http.server
import json
import os
import sys
from pathlib import Path


def main(argv):
    if len(argv) != 3 or argv[0] != "-jar" or argv[2] != "server":
        print(f"stand-in java: expected '-jar JAR server', got {argv}", file=sys.stderr)
        return 2
    jar = Path(os.environ["BOOT_ROOT"] + argv[1])
    try:
        jar_sha256 = hashlib.sha256(jar.read_bytes()).hexdigest()
    except OSError as err:
        print(f"stand-in java: cannot read the jar {argv[1]}: {err}", file=sys.stderr)
        return 1

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path == "/healthz":
                body = b"ok\n"
                content_type = "text/plain"
            else:
                body = json.dumps(
                    {
                        "path": self.path,
                        "headers": {name.lower(): value for name, value in self.headers.items()},
                        "jar": argv[1],
                        "jar_sha256": jar_sha256,
                    }
                ).encode()
                content_type = "application/json"
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["APP_PORT"])), Handler)
    print(f"stand-in java: serving {argv[1]} on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
