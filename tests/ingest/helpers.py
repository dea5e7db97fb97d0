"""The ingest tests' local HTTP site (routes we write, requests logged) and the messages
captured on their way to the enrich stage (fixtures ``site`` and ``sent`` in conftest)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared import queues


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[dict[str, str]], Response]


class Site:
    """Routes path -> Response (or a function of the request headers); logs requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        site = self

        class _H(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802
                headers = {k.lower(): v for k, v in self.headers.items()}
                site.requests.append((self.path, headers))
                route = site.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    resp = Response(b"not found", 404)
                elif callable(route):
                    resp = route(headers)
                else:
                    resp = route
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in resp.headers:
                    self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        hdrs = dict(headers or {})
        if content_type:
            hdrs["Content-Type"] = content_type
        self.routes[path] = Response(data, status, hdrs)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p.split("?", 1)[0] == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Sent:
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def articles(self) -> list[dict[str, Any]]:
        return [
            a for name, m in self.messages if name == queues.TAG_ARTICLES for a in m["articles"]
        ]
