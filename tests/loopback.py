"""A file server on 127.0.0.1 for the tests of code that downloads: no test reaches the
internet."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    """Serves the bytes of ``files`` by name (404 for any other name); a context manager.
    With a ``gate``, each file's second half waits until the gate is set (up to 10 s), so a
    test can act while a download is half-way."""

    def __init__(self, files: dict[str, bytes], gate: threading.Event | None = None):
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append(name)
                body = files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                half = len(body) // 2 if gate is not None else len(body)
                self.wfile.write(body[:half])
                if gate is not None:
                    self.wfile.flush()
                    gate.wait(10)
                self.wfile.write(body[half:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_port}/"

    def url(self, name: str) -> str:
        return self.base + name

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FileServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def refused_url(name: str) -> str:
    """An address on 127.0.0.1 where nothing listens: a download from it fails at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"
