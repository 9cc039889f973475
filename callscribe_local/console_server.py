"""The console's local web server: the static app, its runtime config, Cognito and the read API on one
origin, as CloudFront gives the console one origin in AWS.

Files under `console/`, `config.json` built from the stack's values (`ConsoleConfig`), Cognito's
public operations (`COGNITO_TARGETS`) forwarded to moto, and `/api/...` handed unchanged to the
stack's `ApiHandler` (docs/console.md, "Running it locally" and "Security headers").
Must keep: the security headers (`security_headers`, the CSP allowing only this origin, the feed's
and the recording's) on every answer, errors included; each path part checked, then the resolved
path, before any file is opened; only the content types in `CONTENT_TYPES`, no listing, no
dotfiles; no Cognito target outside the list reaches moto (which serves every AWS API on its port).
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import httpx

from callscribe_local.http_server import BackgroundHttpServer, StandIn

_log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
API_PREFIX = "/api"
COGNITO_PATH = "/cognito/"
CONFIG_PATH = "/config.json"
MAX_BODY_BYTES = 1 << 20

# (method, path with query, headers, body) -> (status, headers, body)
ApiHandler = Callable[[str, str, list[tuple[str, str]], bytes], tuple[int, list[tuple[str, str]], bytes]]

CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}

# The operations a browser signs in, refreshes and signs out with; nothing that needs AWS credentials.
COGNITO_TARGETS = frozenset(
    f"AWSCognitoIdentityProviderService.{name}"
    for name in ("InitiateAuth", "RespondToAuthChallenge", "RevokeToken", "GlobalSignOut", "GetUser")
)

# Hop-by-hop headers (RFC 9110 7.6.1) and what the server sets itself: never copied across.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "content-length",
        "date",
        "server",
    }
)


@dataclass(frozen=True)
class ConsoleConfig:
    """What `GET /config.json` answers: the same keys infra deploys next to the app in AWS."""

    region: str
    user_pool_id: str
    user_pool_client_id: str
    feed_http_host: str
    feed_realtime_url: str
    cognito_url: str = COGNITO_PATH
    api_url: str = API_PREFIX

    def as_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "userPoolId": self.user_pool_id,
            "userPoolClientId": self.user_pool_client_id,
            "cognitoUrl": self.cognito_url,
            "apiUrl": self.api_url,
            "feed": {"httpHost": self.feed_http_host, "realtimeUrl": self.feed_realtime_url},
        }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def security_headers(config: ConsoleConfig, media_origins: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The headers every answer carries. The CSP names each origin the app talks to and nothing else:
    scripts and styles only from files of this origin (no inline code anywhere in the app)."""
    connect = " ".join(
        filter(None, ["'self'", _origin(config.feed_realtime_url), _origin(config.cognito_url)])
    )
    media = " ".join(["'self'", *sorted({_origin(o) for o in media_origins if _origin(o)})])
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            f"media-src {media}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    @classmethod
    def json(cls, status: int, doc: Any, *extra: tuple[str, str]) -> Answer:
        return cls(status, [("Content-Type", "application/json"), *extra], json.dumps(doc).encode())


def _not_found() -> Answer:
    return Answer.json(404, {"message": "Not found"})


class StaticFiles:
    """Files under one folder, by URL path; `None` for anything that is not a servable file there."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, url_path: str) -> Path | None:
        path = unquote(url_path)
        if "\x00" in path or "\\" in path:
            return None
        if path in ("", "/"):
            path = "/index.html"
        parts = [p for p in path.split("/") if p]
        # "..", "." and dotfiles are refused by name, before the file system is asked anything
        if not parts or any(p.startswith(".") for p in parts) or posixpath.normpath(path) != path.rstrip("/"):
            return None
        candidate = self.root.joinpath(*parts).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None  # a folder (no listing), a symlink out of the root, or nothing
        if candidate.suffix.lower() not in CONTENT_TYPES:
            return None
        return candidate

    def answer(self, url_path: str, if_none_match: str | None) -> Answer:
        found = self.resolve(url_path)
        if found is None:
            return _not_found()
        data = found.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        headers = [
            ("Content-Type", CONTENT_TYPES[found.suffix.lower()]),
            ("ETag", etag),
            ("Cache-Control", "no-cache"),  # revalidate: a new version is seen at once
        ]
        if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
            return Answer(304, headers)
        return Answer(200, headers, data)


class CognitoForwarder:
    """`POST /cognito/` → moto's Cognito endpoint, for the allowed targets only."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.endpoint = endpoint.rstrip("/") + "/"
        self._client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def forward(self, headers: Mapping[str, str], body: bytes) -> Answer:
        target = headers.get("x-amz-target", "")
        if target not in COGNITO_TARGETS:
            return Answer.json(400, {"__type": "InvalidAction", "message": "operation not offered here"})
        try:
            response = self._client.post(
                self.endpoint,
                content=body,
                headers={
                    "X-Amz-Target": target,
                    "Content-Type": headers.get("content-type", "application/x-amz-json-1.1"),
                },
            )
        except httpx.HTTPError as exc:
            _log.warning("cognito forward failed: %s", type(exc).__name__)
            return Answer.json(
                502, {"__type": "ServiceUnavailable", "message": "sign-in service unreachable"}
            )
        content_type = response.headers.get("content-type", "application/x-amz-json-1.1")
        return Answer(response.status_code, [("Content-Type", content_type)], response.content)


class ConsoleServer(StandIn):
    """`ConsoleServer(config=…, api=…, cognito_endpoint=…).start()`; the console is at `.url`."""

    def __init__(
        self,
        *,
        config: ConsoleConfig,
        api: ApiHandler,
        cognito_endpoint: str,
        root: Path = CONSOLE_DIR,
        media_origins: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config
        self.api = api
        self.files = StaticFiles(root)
        self.cognito = CognitoForwarder(cognito_endpoint)
        self.headers = security_headers(config, media_origins)
        self._http = BackgroundHttpServer(host, port, self._request_handler_class(), "console-server")

    @property
    def url(self) -> str:
        return f"http://{self._http.host}:{self._http.port}"

    @property
    def api_url(self) -> str:
        """The read API's base as a client outside the browser sees it (`console_api` in the state file)."""
        return self.url + API_PREFIX

    def start(self) -> Self:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        self.cognito.close()

    def handle(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        """One request, routed; the security headers are added by the caller."""
        path = urlsplit(raw_path).path
        lower = {k.lower(): v for k, v in headers}
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            return self._api(method, raw_path, headers, body)
        if path == COGNITO_PATH:
            if method != "POST":
                return Answer.json(405, {"message": "Method not allowed"}, ("Allow", "POST"))
            return self.cognito.forward(lower, body)
        if method not in ("GET", "HEAD"):
            return Answer.json(405, {"message": "Method not allowed"}, ("Allow", "GET, HEAD"))
        if path == CONFIG_PATH:
            return Answer.json(200, self.config.as_json(), ("Cache-Control", "no-store"))
        return self.files.answer(path, lower.get("if-none-match"))

    def _api(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        try:
            status, out_headers, data = self.api(method, raw_path, headers, body)
        except Exception:  # noqa: BLE001 - an API that raises is answered 502, as a gateway would
            _log.exception("console API failed for %s %s", method, urlsplit(raw_path).path)
            return Answer.json(502, {"message": "Internal server error"})
        kept = [(k, v) for k, v in out_headers if k.lower() not in _NOT_FORWARDED]
        if not any(k.lower() == "cache-control" for k, _ in kept):
            kept.append(("Cache-Control", "no-store"))  # call records are not for shared caches
        return Answer(status, kept, data)

    def _request_handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "callscribe-console"
            sys_version = ""

            def _serve(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    answer = Answer.json(400, {"message": "Bad Content-Length"})
                    self.close_connection = True
                elif length > MAX_BODY_BYTES:
                    answer = Answer.json(413, {"message": "Request body too large"})
                    self.close_connection = True
                else:
                    body = self.rfile.read(length) if length else b""
                    answer = server.handle(self.command, self.path, list(self.headers.items()), body)
                try:
                    self.send_response(answer.status)
                    own = {k.lower() for k, _ in answer.headers}
                    for key, value in [
                        *answer.headers,
                        *[(k, v) for k, v in server.headers if k.lower() not in own],
                    ]:
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    if self.command != "HEAD" and answer.status != 304:
                        self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the browser gave up on it (a page left, a request aborted)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and the demo
                return

        return _Handler
