"""Serves one app of this folder on a free loopback port for the live tests.

Usage: python serve.py MODULE. Binds 127.0.0.1:0 itself, prints
"listening on PORT" (the harness reads it), then runs uvicorn on that socket,
so no port is ever guessed. Exits when stdin closes (the harness died).
"""

import socket
import sys
import threading
import os

import uvicorn


def main() -> None:
    module = sys.argv[1]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(f"{module}:app", log_level="warning")
    server = uvicorn.Server(config)

    def watch_stdin() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"listening on {port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
