"""A local API Gateway (REST API, v1 proxy integration) in front of an in-process Lambda handler.

Real HTTP in, a proxy event to `handler(event, context)`, the proxy result back out as HTTP. With
a `CognitoAuthorizer` it also does what a method with a Cognito user pool authoriser does.
Must keep: the event as API Gateway shapes it (`path` without the stage, `requestContext.path` with
it, the resource template and `pathParameters`, single- and multi-value headers and query, a base64
body with `isBase64Encoded` for binary media types such as form posts), so signature checks and URL
reconstruction behave as behind the real gateway; without a valid ID token the handler is never
reached (401), and claims reach it as strings. What is not emulated: docs/local.md, "The parts".
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from callscribe_local.cognito import InvalidTokenError, TokenVerifier
from callscribe_local.http_server import BackgroundHttpServer, StandIn

_log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Mapping[str, Any]]

RESOURCES: tuple[str, ...] = (
    "/twilio/voice",
    "/twilio/status",
    "/twilio/recording",
    "/calls",
    "/calls/{callSid}",
)
DEFAULT_BINARY_MEDIA_TYPES: tuple[str, ...] = ("application/x-www-form-urlencoded",)
LOCAL_ACCOUNT = "123456789012"
LOCAL_API_ID = "localapi01"


def match_resource(path: str, resources: Iterable[str] = RESOURCES) -> tuple[str, dict[str, str] | None]:
    """The resource template a path falls under and its path parameters (greedy proxy otherwise)."""
    for resource in resources:
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "$"
        found = re.match(pattern, path)
        if found:
            params = {name: unquote(value) for name, value in found.groupdict().items()}
            return resource, params or None
    return "/{proxy+}", {"proxy": path.lstrip("/")}


def _multi(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def rest_proxy_event(
    *,
    method: str,
    path: str,
    stage: str = "prod",
    headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    body: bytes | str | None = None,
    query: str = "",
    source_ip: str = "127.0.0.1",
    domain_name: str | None = None,
    binary_media_types: Iterable[str] = DEFAULT_BINARY_MEDIA_TYPES,
    resources: Iterable[str] = RESOURCES,
    authorizer_claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event for a request to `/{stage}{path}` (with the claims a
    Cognito authoriser passes on, when given)."""
    header_pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
    multi_headers = _multi(header_pairs)
    single_headers = {key: values[-1] for key, values in multi_headers.items()}
    query_pairs = parse_qsl(query, keep_blank_values=True)
    multi_query = _multi(query_pairs)
    resource, path_parameters = match_resource(path, resources)
    content_type = next((v for k, v in single_headers.items() if k.lower() == "content-type"), "")
    media_type = content_type.split(";")[0].strip().lower()
    raw = body.encode("utf-8") if isinstance(body, str) else body
    is_base64 = bool(raw) and media_type in {t.lower() for t in binary_media_types}
    encoded_body: str | None
    if raw is None or raw == b"":
        encoded_body = None
    elif is_base64:
        encoded_body = base64.b64encode(raw).decode("ascii")
    else:
        encoded_body = raw.decode("utf-8", errors="replace")
    host = next((v for k, v in single_headers.items() if k.lower() == "host"), None)
    now = datetime.now(UTC)
    user_agent = next((v for k, v in single_headers.items() if k.lower() == "user-agent"), None)
    authorizer = {"authorizer": {"claims": dict(authorizer_claims)}} if authorizer_claims is not None else {}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local01",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": LOCAL_ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": (domain_name or host or LOCAL_API_ID).split(".")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": domain_name or host or f"{LOCAL_API_ID}.execute-api.us-east-1.amazonaws.com",
            "deploymentId": "localdeploy",
            "apiId": LOCAL_API_ID,
            **authorizer,
        },
        "body": encoded_body,
        "isBase64Encoded": is_base64,
    }


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as a REST API's Cognito authoriser hands them to the integration: every value a
    string, lists comma-joined, the epoch times written as dates."""

    def text(name: str, value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return ",".join(str(item) for item in value)
        if name in _EPOCH_CLAIMS and isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return {name: text(name, value) for name, value in claims.items()}


_EPOCH_CLAIMS = frozenset({"exp", "iat", "auth_time"})


class CognitoAuthorizer:
    """A Cognito user pool authoriser with no OAuth scopes: it takes ID tokens from `Authorization`
    (a bare token or `Bearer <token>`), checked by `verifier`; 401 for anything else."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    def claims(self, headers: Iterable[tuple[str, str]]) -> dict[str, str] | None:
        """The claims to pass on, or None: the request is answered 401."""
        value = next((v for k, v in headers if k.lower() == "authorization"), "").strip()
        token = value[7:].strip() if value[:7].lower() == "bearer " else value
        try:
            return gateway_claims(self._verifier.verify(token))
        except InvalidTokenError as exc:
            _log.info("authoriser refused a request: %s", exc)
            return None


@dataclass
class LocalLambdaContext:
    """Enough of Lambda's context object for Powertools (logger context, metrics, tracer)."""

    function_name: str = "callscribe-webhooks-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/callscribe-webhooks-local"
    log_stream_name: str = "local"
    timeout_seconds: float = 29.0
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{LOCAL_ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class LocalApiGateway(StandIn):
    """`LocalApiGateway(handler).start()`; requests to `.url + path` reach `handler` in-process."""

    def __init__(
        self,
        handler: Handler,
        stage: str = "local",
        host: str = "127.0.0.1",
        port: int = 0,
        binary_media_types: Iterable[str] = DEFAULT_BINARY_MEDIA_TYPES,
        resources: Iterable[str] = RESOURCES,
        authorizer: CognitoAuthorizer | None = None,
    ) -> None:
        self.handler = handler
        self.authorizer = authorizer
        self.stage = stage
        self.binary_media_types = tuple(binary_media_types)
        self.resources = tuple(resources)
        self._http = BackgroundHttpServer(host, port, self._request_handler_class(), "local-apigw")
        # One invocation at a time, as in one Lambda execution environment: Powertools' resolver
        # keeps the current request on the module-level app, so concurrent calls would mix them.
        self._invoke_lock = threading.Lock()

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return f"http://{self._http.host}:{self.port}/{self.stage}"

    def start(self) -> Self:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def invoke(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request through the gateway: stage check, event, handler, proxy result."""
        parts = urlsplit(raw_path)
        prefix = f"/{self.stage}"
        if parts.path != prefix and not parts.path.startswith(prefix + "/"):
            # What API Gateway answers for a path outside any deployed stage.
            return 403, [("Content-Type", "application/json")], b'{"message":"Forbidden"}'
        path = parts.path[len(prefix) :] or "/"
        claims: dict[str, str] | None = None
        if self.authorizer is not None:
            claims = self.authorizer.claims(headers)
            if claims is None:  # what API Gateway answers before the integration runs
                return 401, [("Content-Type", "application/json")], b'{"message":"Unauthorized"}'
        client_host = next((v for k, v in headers if k.lower() == "host"), f"127.0.0.1:{self.port}")
        gateway_headers = [
            *headers,
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Port", str(self.port)),
            ("X-Forwarded-For", "127.0.0.1"),
        ]
        event = rest_proxy_event(
            method=method,
            path=path,
            stage=self.stage,
            headers=gateway_headers,
            body=body,
            query=parts.query,
            domain_name=client_host.split(":")[0],
            binary_media_types=self.binary_media_types,
            resources=self.resources,
            authorizer_claims=claims,
        )
        try:
            with self._invoke_lock:
                result = self.handler(event, LocalLambdaContext())
        except Exception:  # noqa: BLE001 - a failed invocation is answered 502, as API Gateway does
            _log.exception("handler failed for %s %s", method, raw_path)
            return 502, [("Content-Type", "application/json")], b'{"message": "Internal server error"}'
        status = int(result.get("statusCode", 200))
        out_headers: list[tuple[str, str]] = []
        for key, values in (result.get("multiValueHeaders") or {}).items():
            out_headers += [(key, str(value)) for value in values]
        seen = {key.lower() for key, _ in out_headers}
        out_headers += [
            (k, str(v)) for k, v in (result.get("headers") or {}).items() if k.lower() not in seen
        ]
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode("utf-8")
        return status, out_headers, data

    def _request_handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = gateway.invoke(
                    self.command, self.path, list(self.headers.items()), body
                )
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and the demo
                return

        return _Handler
