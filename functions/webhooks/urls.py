"""The public base URL of this API, for the callback URLs we hand Twilio in TwiML and REST calls.

`WEBHOOK_BASE_URL` (a custom domain) wins. Without it the base is rebuilt the way API Gateway was
reached: scheme from X-Forwarded-Proto, host from Host, then the stage (execute-api URLs carry it).
With a custom domain, set WEBHOOK_BASE_URL: the stage is not part of those URLs. X-Forwarded-Host is
never read: it is the client's word, and these URLs receive Twilio requests signed with our token.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.headers import header as _header


def public_base_url(event: Mapping[str, object], configured: str | None) -> str:
    if configured:
        return configured.rstrip("/")
    headers_obj = event.get("headers")
    headers: Mapping[str, str] = headers_obj if isinstance(headers_obj, Mapping) else {}
    host = _header(headers, "host") or "localhost"
    proto = (_header(headers, "x-forwarded-proto") or "https").split(",")[0].strip()
    port = (_header(headers, "x-forwarded-port") or "").split(",")[0].strip()
    if port and port != {"https": "443", "http": "80"}.get(proto) and ":" not in host:
        host = f"{host}:{port}"
    context_obj = event.get("requestContext")
    context: Mapping[str, object] = context_obj if isinstance(context_obj, Mapping) else {}
    stage = context.get("stage")
    suffix = f"/{stage}" if isinstance(stage, str) and stage and stage != "$default" else ""
    return f"{proto}://{host}{suffix}"
