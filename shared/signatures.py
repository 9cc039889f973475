"""Twilio request signatures: API Gateway webhooks and the Media Streams WebSocket upgrade.

Twilio signs the exact public URL it called plus the sorted form parameters (HMAC-SHA1 keyed by the
auth token). Behind API Gateway the Lambda never sees that URL verbatim: `event.path` lacks the stage,
a custom domain hides the execute-api host, ALB/API Gateway terminate TLS. So we rebuild the few
URLs Twilio can have used and accept the request when any one verifies. The candidates all name the
same route the request arrived on, so this never lets a signature for one route pass on another,
and none is chosen by a header the client controls alone (see `candidate_urls`).
Verification itself is always `twilio.request_validator.RequestValidator`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import parse_qsl, urlencode

from twilio.request_validator import RequestValidator

from shared.errors import MalformedRequestError
from shared.headers import header as _header

SIGNATURE_HEADER = "x-twilio-signature"


class FormParams(Mapping[str, str]):
    """A form body that keeps repeated parameters (Twilio signs every value) and blank values.

    Reads like a dict of first values; `getall` is what RequestValidator uses to sign every value.
    """

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for key, value in pairs:
            self._first.setdefault(key, value)

    @classmethod
    def parse(cls, body: str | bytes | None, *, is_base64: bool = False) -> FormParams:
        """Parse an `application/x-www-form-urlencoded` body (API Gateway may hand it over base64)."""
        if body is None:
            return cls([])
        raw: bytes
        if is_base64:
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise MalformedRequestError("request body is not valid base64") from exc
        else:
            raw = body.encode("utf-8") if isinstance(body, str) else body
        try:
            text = raw.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedRequestError("request body is not a valid form encoding") from exc
        return cls(pairs)

    def getall(self, key: str) -> list[str]:
        return [value for name, value in self._pairs if name == key]

    def __getitem__(self, key: str) -> str:
        return self._first[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)


def _query_suffix(event: Mapping[str, object]) -> str:
    multi = event.get("multiValueQueryStringParameters")
    single = event.get("queryStringParameters")
    pairs: list[tuple[str, str]] = []
    if isinstance(multi, Mapping) and multi:
        for key, values in multi.items():
            for value in values if isinstance(values, list) else [values]:
                pairs.append((str(key), str(value)))
    elif isinstance(single, Mapping) and single:
        pairs = [(str(k), str(v)) for k, v in single.items()]
    return "?" + urlencode(pairs) if pairs else ""


def _is_execute_api_host(host: str) -> bool:
    """`{api-id}.execute-api.{region}.amazonaws.com[.cn]`: URLs on it always carry the stage."""
    return ".execute-api." in host.lower()


def candidate_urls(event: Mapping[str, object], base_url: str | None) -> list[str]:
    """The public URLs Twilio may have signed for this API Gateway REST (v1) proxy event.

    With `WEBHOOK_BASE_URL` set, that base plus the route path is the only candidate: it is the URL
    we gave Twilio, and letting the request's own headers add others would accept a signature
    Twilio made for another host (another app of the account, an old URL) replayed at us.

    Without it the URL is rebuilt from Host (trusted because API Gateway routes by it: a request
    naming another host never reaches this API), X-Forwarded-Proto/Port (set by API Gateway) and
    the stage-qualified `requestContext.path`. X-Forwarded-Host is never read: nothing in front of
    API Gateway sets it, so it is whatever the client wrote. The stage-less URL (Host + `path`) is a
    candidate only off execute-api hosts, i.e. a custom domain whose public URLs have no stage; on
    an execute-api host the stage is always in the URL Twilio was given.
    """
    path = str(event.get("path") or "/")
    query = _query_suffix(event)
    if base_url:
        return [base_url.rstrip("/") + path + query]
    headers_obj = event.get("headers")
    headers: Mapping[str, str] = headers_obj if isinstance(headers_obj, Mapping) else {}
    context_obj = event.get("requestContext")
    context: Mapping[str, object] = context_obj if isinstance(context_obj, Mapping) else {}
    host = _header(headers, "host")
    if not host:
        return []
    proto = (_header(headers, "x-forwarded-proto") or "https").split(",")[0].strip()
    port = (_header(headers, "x-forwarded-port") or "").split(",")[0].strip()
    default_port = {"https": "443", "http": "80"}.get(proto)
    if port and port != default_port and ":" not in host:
        host = f"{host}:{port}"
    origin = f"{proto}://{host}"
    urls: list[str] = []
    stage = context.get("stage")
    context_path = context.get("path")
    if isinstance(context_path, str) and context_path:
        urls.append(origin + context_path + query)
    if isinstance(stage, str) and stage and stage != "$default":
        urls.append(f"{origin}/{stage}{path}{query}")
    if not _is_execute_api_host(host) or not urls:
        urls.append(origin + path + query)
    return list(dict.fromkeys(urls))  # de-duplicated, order kept


AuthTokens = str | Sequence[str]


def _tokens(auth_tokens: AuthTokens) -> list[str]:
    """One token, or the primary and (during a rotation) the secondary; empty ones are no key."""
    tokens = [auth_tokens] if isinstance(auth_tokens, str) else list(auth_tokens)
    return [token for token in tokens if token]


def verify(
    auth_tokens: AuthTokens,
    urls: list[str],
    params: Mapping[str, str],
    signature: str | None,
) -> bool:
    """True when `signature` is Twilio's signature of any of `urls` with `params`, made with any
    of `auth_tokens`."""
    if not signature or not urls:
        return False
    return any(
        RequestValidator(token).validate(url, params, signature)
        for token in _tokens(auth_tokens)
        for url in urls
    )


def verify_api_gateway_event(
    event: Mapping[str, object], params: Mapping[str, str], auth_tokens: AuthTokens, base_url: str | None
) -> bool:
    """Verify a webhook delivered through API Gateway (REST proxy event)."""
    headers_obj = event.get("headers")
    headers = headers_obj if isinstance(headers_obj, Mapping) else None
    return verify(auth_tokens, candidate_urls(event, base_url), params, _header(headers, SIGNATURE_HEADER))


def stream_candidate_urls(stream_url: str) -> list[str]:
    """Twilio signs the `wss://` URL from the TwiML; its docs advise trying it with a trailing `/` too."""
    bare = stream_url.rstrip("/")
    return [bare, bare + "/"]


def verify_stream_upgrade(stream_url: str, headers: Mapping[str, str], auth_tokens: AuthTokens) -> bool:
    """Verify the Media Streams WebSocket upgrade (a GET: no parameters are signed)."""
    return verify(auth_tokens, stream_candidate_urls(stream_url), {}, _header(headers, SIGNATURE_HEADER))
