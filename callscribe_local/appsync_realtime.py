"""AppSync Events' realtime WebSocket protocol, one connection's side of it (the stand-in's server).

Subprotocols `aws-appsync-event-ws` and `header-<base64url of {"host", "Authorization"}>` (the
connection's auth); then `connection_init` → `connection_ack` and `ka`; `subscribe` →
`subscribe_success` / `subscribe_error`; `data` per event and subscription; `unsubscribe`;
`publish` → `publish_error` (the product publishes over HTTP); anything else → `error`, as AWS
documents the messages. Must keep: a subscribe is authorised by its own token (valid, unexpired,
with the subscribe group: AWS's Cognito auth plus the onSubscribe handler); a refused header token
gets `connection_error` and close 1008; everything sent goes through the connection's bounded outbox.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request

from callscribe_local.appsync_channels import Channel, ChannelError, parse_channel
from callscribe_local.cognito import InvalidTokenError, TokenVerifier
from shared.access import claims_groups

SUBPROTOCOL = "aws-appsync-event-ws"
AUTH_PROTOCOL_PREFIX = "header-"
CONNECTION_TIMEOUT_MS = 300_000
MAX_SUBSCRIPTION_ID = 128
UNAUTHORIZED = "UnauthorizedException"
BAD_REQUEST = "BadRequestException"


def auth_protocol(header: Mapping[str, str]) -> str:
    """The `header-…` subprotocol carrying a connection's auth header (base64url, no padding)."""
    text = json.dumps(dict(header), separators=(",", ":")).encode("utf-8")
    return AUTH_PROTOCOL_PREFIX + base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


def errors(error_type: str, message: str) -> list[dict[str, str]]:
    return [{"errorType": error_type, "message": message}]


def encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class Refused(Exception):
    """A request the protocol answers with an error of `error_type`."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class Access:
    """What a connection and each subscribe must show: a pool token (`verifier`), the API's host in
    the connection's header, and the subscribe group."""

    verifier: TokenVerifier
    http_host: str
    namespaces: Collection[str]
    subscribe_group: str

    def connection(self, request: Request) -> None:
        header = auth_header(request)
        if header.get("host") != self.http_host:
            raise Refused(UNAUTHORIZED, "the auth header's host does not name this API")
        try:
            self.verifier.verify(str(header.get("Authorization", "")))
        except InvalidTokenError as exc:
            raise Refused(UNAUTHORIZED, f"connection token refused: {exc}") from exc

    def subscription(self, message: Mapping[str, Any]) -> Channel:
        try:
            channel = parse_channel(message.get("channel"), self.namespaces, wildcard=True)
        except ChannelError as exc:
            raise Refused(BAD_REQUEST, str(exc)) from exc
        authorization = message.get("authorization")
        if not isinstance(authorization, dict) or not authorization.get("Authorization"):
            raise Refused(UNAUTHORIZED, "the subscribe message carries no authorization")
        try:
            claims = self.verifier.verify(str(authorization["Authorization"]))
        except InvalidTokenError as exc:
            raise Refused(UNAUTHORIZED, f"token refused: {exc}") from exc
        if self.subscribe_group not in claims_groups(claims):  # the onSubscribe handler's check
            raise Refused(UNAUTHORIZED, f"not in the group {self.subscribe_group}")
        return channel


@dataclass(eq=False)
class RealtimeConnection:
    ws: ServerConnection
    access: Access
    outbox: asyncio.Queue[str]
    subscriptions: dict[str, Channel] = field(default_factory=dict)
    overflowed: bool = False  # fell `outbox.maxsize` messages behind: the server disconnects it

    def push(self, message: str) -> bool:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            return False
        return True

    def reply(self, kind: str, message_id: object = None, **fields: Any) -> None:
        body = {"type": kind, **({"id": message_id} if message_id is not None else {}), **fields}
        self.push(encode(body))

    def handle(self, frame: str | bytes) -> None:
        """One client message, answered through the outbox."""
        try:
            message = json.loads(frame)
        except (ValueError, UnicodeDecodeError):
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.reply("error", errors=errors(BAD_REQUEST, "not a JSON message with a type"))
            return
        kind, message_id = message["type"], message.get("id")
        if kind == "connection_init":
            self.reply("connection_ack", connectionTimeoutMs=CONNECTION_TIMEOUT_MS)
        elif kind == "subscribe":
            try:
                self.subscriptions[self._new_id(message_id)] = self.access.subscription(message)
            except Refused as exc:
                self.reply("subscribe_error", message_id, errors=errors(exc.error_type, str(exc)))
                return
            self.reply("subscribe_success", message_id)
        elif kind == "unsubscribe":
            if isinstance(message_id, str) and self.subscriptions.pop(message_id, None) is not None:
                self.reply("unsubscribe_success", message_id)
            else:
                self.reply(
                    "unsubscribe_error", message_id, errors=errors(BAD_REQUEST, "no such subscription")
                )
        elif kind == "publish":
            refusal = errors(UNAUTHORIZED, "this namespace takes publishes signed with IAM, over HTTP")
            self.reply("publish_error", message_id, errors=refusal)
        elif kind != "ka":
            refusal = errors("UnsupportedOperation", f"unknown message type {kind[:40]!r}")
            self.reply("error", message_id, errors=refusal)

    def _new_id(self, message_id: object) -> str:
        if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_SUBSCRIPTION_ID:
            raise Refused(BAD_REQUEST, f"id must be a string of 1 to {MAX_SUBSCRIPTION_ID} characters")
        if message_id in self.subscriptions:
            raise Refused(BAD_REQUEST, "a subscription with this id exists on this connection")
        return message_id


def offered(request: Request) -> list[str]:
    """The subprotocols a handshake offered, in order."""
    values = request.headers.get_all("Sec-WebSocket-Protocol")
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def auth_header(request: Request) -> dict[str, Any]:
    """The connection's auth header from its `header-` subprotocol; Refused when absent or garbled."""
    prefix = AUTH_PROTOCOL_PREFIX
    encoded = next((item[len(prefix) :] for item in offered(request) if item.startswith(prefix)), "")
    if not encoded:
        raise Refused(UNAUTHORIZED, "no header- subprotocol with the connection's authorization")
    try:
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise Refused(UNAUTHORIZED, "the header- subprotocol is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise Refused(UNAUTHORIZED, "the header- subprotocol is not a JSON object")
    return header
