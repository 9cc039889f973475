"""What every HTTP stand-in here shares: a threaded HTTP server on a daemon thread, and the
start/stop/context-manager lifecycle around it. The stand-ins themselves only speak their protocol."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import ClassVar, Self


class _Server(ThreadingHTTPServer):
    # Many calls' turns can end in the same instant (benchmarks): the default backlog of 5 would
    # drop connection attempts and cost a 1 s SYN retry that a real service would not.
    request_queue_size = 128
    daemon_threads = True


class BackgroundHttpServer:
    """Binds at construction (so the port is known at once); serves from `start()` until `stop()`."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self._server = _Server((host, port), handler)
        self._name = name
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=lambda: self._server.serve_forever(poll_interval=0.05), name=self._name, daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


class StandIn:
    """`with StandIn() as s:` starts it and stops it, whatever happens inside."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class HttpStandIn(StandIn):
    """A stand-in served by one `BackgroundHttpServer` from `start()` to `stop()`: subclasses give
    its address (`_address`), a `label`, and either `handler` (a request handler class that reaches
    the stand-in as `self.owner`) or their own `_handler_class`."""

    label: ClassVar[str] = "HTTP stand-in"
    handler: ClassVar[type[BaseHTTPRequestHandler] | None] = None
    _http: BackgroundHttpServer | None = None

    def _address(self) -> tuple[str, int]:
        raise NotImplementedError

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        if self.handler is None:
            raise NotImplementedError
        return type(self.handler.__name__, (self.handler,), {"owner": self})

    def start(self) -> Self:
        if self._http is None:
            host, port = self._address()
            self._http = BackgroundHttpServer(host, port, self._handler_class(), self.label.replace(" ", "-"))
            self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    @property
    def base_url(self) -> str:
        if self._http is None:
            raise RuntimeError(f"the {self.label} is not running")
        return f"http://{self._http.host}:{self._http.port}"
