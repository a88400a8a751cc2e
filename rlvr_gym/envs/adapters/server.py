"""``rlvr-gym serve``: an HTTP reward server for remote-reward trainers (OpenRLHF).

Endpoints (JSON in, JSON out), under ``/<secret_path>`` when one is set:

``POST /get_reward``
    OpenRLHF's remote reward protocol (v0.11, ``openrlhf/utils/agent.py``,
    ``SingleTurnAgentExecutor._fetch_rewards_via_http``): ``{"query": [str], "prompts": [str],
    "labels": [gt]}``, ``query`` being prompt + response. The response is cut out of each query by
    `rlvr_gym.envs.adapters.openrlhf.isolate_response` (never verifying prompt text). Answer, one
    entry per sample: ``{"rewards": [alpha or 0], "scores": [1 or 0], "extra_logs": {reason: [1 or 0],
    ..., "not_isolated": [1 or 0]}, "reasons": [str]}``.
``POST /verify``
    ``{"responses": [str], "ground_truths": [gt]}`` -> ``{"verdicts": [Verdict], "counts": {...}}``.
``GET /health``
    ``{"status": "ok", "verifier": name}`` (never under the secret path).

Authentication: OpenRLHF sends no ``Authorization`` header, so for it use a secret path
(``--secret-path``; the URL becomes ``http://host:port/<secret>/get_reward``). A bearer
``token`` suits other clients. Requests are verified concurrently over ``workers`` processes
(`SharedVerifier`). Errors are JSON ``{"error": message}`` with a 4xx status: 400 malformed JSON
or wrong types, 401 missing or wrong bearer token, 404 unknown path (a wrong secret included),
405 wrong method, 411 no Content-Length, 413 body over ``max_body_bytes``. SIGINT/SIGTERM stop
the server after the requests in flight.
"""

from __future__ import annotations

import hmac
import json
import re
import signal
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ...verifiers import Verifier, get_verifier
from .openrlhf import OpenRLHFReward
from .workers import SharedVerifier

__all__ = ["RewardServer", "ServerConfig", "serve"]


@dataclass(frozen=True)
class ServerConfig:
    """Settings of the reward server."""

    verifier: str = "gsm8k"
    """Verifier name (see ``rlvr_gym.verifiers.list_verifiers()``)."""
    alpha: float = 1.0
    """Score of a correct response."""
    host: str = "127.0.0.1"
    """Address to bind; loopback by default. Use 0.0.0.0 only behind a token."""
    port: int = 8000
    """TCP port; 0 picks a free one."""
    token: str | None = None
    """Bearer token required in ``Authorization: Bearer <token>``; None accepts any caller."""
    secret_path: str | None = None
    """Path segment every endpoint but /health sits under (``/<secret>/get_reward``); the auth that works with OpenRLHF."""
    max_body_bytes: int = 16 * 1024 * 1024
    """Largest request body accepted (413 above it)."""
    max_items: int = 65_536
    """Largest number of items in one request (400 above it)."""
    workers: int = 2
    """Verifier worker processes (0 verifies in the server process, without timeouts)."""
    timeout_s: float = 10.0
    """Per-item verification timeout in seconds."""
    socket_timeout_s: float = 30.0
    """A client that sends nothing for this long is disconnected."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.max_body_bytes < 1 or self.max_items < 1:
            raise ValueError("max_body_bytes and max_items must be >= 1")
        if self.token is not None and not self.token:
            raise ValueError("token must be a non-empty string or None")
        if self.secret_path is not None and not _SECRET_PATH.fullmatch(self.secret_path):
            raise ValueError(
                "secret_path must be 16 to 256 characters from A-Z a-z 0-9 _ - (URL-safe, and no comma: "
                "OpenRLHF splits --reward.remote_url on commas); e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")


_SECRET_PATH = re.compile(r"[A-Za-z0-9_-]{16,256}")


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 1024  # listen backlog: many trainer workers connect at once
    daemon_threads = True


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def _list_field(body: dict[str, Any], key: str, *, required: bool, strings: bool, limit: int) -> list[Any] | None:
    if key not in body:
        if required:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, f"missing field {key!r}")
        return None
    value = body[key]
    if not isinstance(value, list):
        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"field {key!r} must be a list, got {type(value).__name__}")
    if len(value) > limit:
        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"field {key!r} has {len(value)} items; the limit is {limit}")
    if strings:
        for i, entry in enumerate(value):
            if not isinstance(entry, str):
                raise _BadRequest(HTTPStatus.BAD_REQUEST, f"field {key!r}[{i}] must be a string, got {type(entry).__name__}")
    return value


class RewardServer:
    """The server object: owns the HTTP server, the verifier and its worker pool."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.verifier: Verifier = get_verifier(config.verifier, alpha=config.alpha)
        self.shared = SharedVerifier(self.verifier, workers=config.workers, timeout_s=config.timeout_s)
        self.reward = OpenRLHFReward(self.shared)
        self.httpd = _HTTPServer((config.host, config.port), self._handler_class())

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def prefix(self) -> str:
        """``/<secret_path>`` or the empty string."""
        return f"/{self.config.secret_path}" if self.config.secret_path else ""

    # -- request handling ---------------------------------------------------------
    def handle_get_reward(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = self.config.max_items
        queries = _list_field(body, "query", required=True, strings=True, limit=limit)
        prompts = _list_field(body, "prompts", required=True, strings=True, limit=limit)
        labels = _list_field(body, "labels", required=True, strings=False, limit=limit)
        assert queries is not None and prompts is not None and labels is not None
        if not len(queries) == len(prompts) == len(labels):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "query, prompts and labels must have the same length")
        return self.reward(queries, prompts, labels)

    def handle_verify(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = self.config.max_items
        responses = _list_field(body, "responses", required=True, strings=True, limit=limit)
        ground_truths = _list_field(body, "ground_truths", required=True, strings=False, limit=limit)
        assert responses is not None and ground_truths is not None
        if len(responses) != len(ground_truths):
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "responses and ground_truths must have the same length")
        result = self.shared.verify(list(zip(responses, ground_truths)))
        return {"verdicts": [v.to_dict() for v in result], "counts": result.counts}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self
        config = self.config
        prefix = server.prefix
        routes = {f"{prefix}/get_reward": server.handle_get_reward, f"{prefix}/verify": server.handle_verify}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are two writes: with Nagle on, the body waits for the client's delayed ACK
            # (40 ms on Linux) on every kept-alive request. Send both at once, without delay.
            disable_nagle_algorithm = True
            wbufsize = -1  # buffered; BaseHTTPRequestHandler flushes after each request
            timeout = config.socket_timeout_s
            server_version = "rlvr-gym"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: one line per request would swamp a training log

            def _send(self, status: HTTPStatus, payload: dict[str, Any], close: bool = False) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if config.token is None:
                    return True
                header = self.headers.get("Authorization", "")
                scheme, _, given = header.partition(" ")
                return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), config.token.encode())

            def _route(self) -> Any:
                # compare_digest on every candidate: the time taken says nothing about the secret
                found = None
                for path, route in routes.items():
                    if hmac.compare_digest(self.path.encode("utf-8", "surrogateescape"), path.encode()):
                        found = route
                return found

            def _unknown(self) -> str:
                return "unknown path" if prefix else f"unknown path {self.path[:200]}"  # never echo a guessed secret

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._send(HTTPStatus.OK, {"status": "ok", "verifier": config.verifier})
                elif self._route() is not None:
                    self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "this path takes POST"})
                else:
                    self._send(HTTPStatus.NOT_FOUND, {"error": self._unknown()})

            def do_POST(self) -> None:
                try:
                    route = self._route()
                    if route is None:
                        raise _BadRequest(HTTPStatus.NOT_FOUND, self._unknown())
                    if not self._authorized():
                        raise _BadRequest(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")
                    length_header = self.headers.get("Content-Length")
                    if length_header is None:
                        raise _BadRequest(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
                    try:
                        length = int(length_header)
                    except ValueError:
                        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length_header[:50]!r}") from None
                    if length < 0:
                        raise _BadRequest(HTTPStatus.BAD_REQUEST, "negative Content-Length")
                    if length > config.max_body_bytes:
                        too_large = f"body of {length} bytes exceeds the limit of {config.max_body_bytes}"
                        raise _BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
                    raw = self.rfile.read(length)
                    if len(raw) != length:
                        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"body ended after {len(raw)} of {length} bytes")
                    try:
                        body = json.loads(raw)
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {exc}") from None
                    if not isinstance(body, dict):
                        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"body must be a JSON object, got {type(body).__name__}")
                    self._send(HTTPStatus.OK, route(body))
                except _BadRequest as exc:
                    # The body may be unread and would be parsed as the next request: close instead.
                    self._send(exc.status, {"error": str(exc)}, close=True)

        return Handler

    # -- lifecycle ------------------------------------------------------------------
    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop `serve_forever` (from another thread), then release the socket and the workers."""
        self.httpd.shutdown()
        self.close()

    def close(self) -> None:
        """Release the socket and the worker processes (after `serve_forever` returned)."""
        self.httpd.server_close()
        self.shared.close()


def serve(config: ServerConfig) -> int:
    """Run the server until SIGINT or SIGTERM; then shut down cleanly."""
    server = RewardServer(config)
    host, port = server.address
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()  # httpd.shutdown() waits for serve_forever: call it from another thread
            threading.Thread(target=server.httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    base = f"http://{host}:{port}"
    shown = f"{base}/<secret path>" if config.secret_path else base  # the secret stays out of logs
    print(
        f"rlvr-gym serve: {config.verifier} on {base} (POST {shown}/get_reward, {shown}/verify; GET {base}/health)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.close()
    print("rlvr-gym serve: stopped", file=sys.stderr, flush=True)
    return 0
