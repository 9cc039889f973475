"""A Twilio Media Streams client for tests and benchmarks: what Twilio itself sends to the streamer.

The upgrade is signed like Twilio does (X-Twilio-Signature = RequestValidator over the public
`wss://` STREAM_URL with no parameters); then `connected`, `start` (callSid, tracks,
customParameters, mediaFormat), `media` per track (20 ms / 160-byte mu-law frames, base64, numbers as
strings, media.timestamp in ms from stream start), and `stop`. It can also forge or omit the
signature and send arbitrary garbage.

`start` carries the per-call stream token by default, as a `<Stream>` our webhooks emitted would
(`signed_parameters`), so the streamer's token check can be required without touching every test;
`start(signed=False)` or `custom_parameters={"token": ...}` with `signed=False` test the refusals.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

from shared import stream_token

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
UNSIGNED = ""


def sign_stream(auth_token: str, stream_url: str) -> str:
    return str(RequestValidator(auth_token).compute_signature(stream_url, {}))


def signed_parameters(
    auth_token: str, call_sid: str, parameters: dict[str, str] | None = None
) -> dict[str, str]:
    """`start.customParameters` of a stream our webhooks started: the parameters plus their token."""
    params = dict(parameters or {})
    return {**params, stream_token.TOKEN_PARAMETER: stream_token.sign(auth_token, call_sid, params)}


class TwilioMediaStream:
    def __init__(
        self,
        server_url: str,
        stream_url: str,
        auth_token: str,
        call_sid: str,
        account_sid: str = "AC" + "0" * 32,
    ) -> None:
        self.server_url = server_url
        self.stream_url = stream_url
        self.auth_token = auth_token
        self.call_sid = call_sid
        self.account_sid = account_sid
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.ws: ClientConnection | None = None
        self._sequence = 0
        self._chunks: dict[str, int] = {}

    async def open(
        self, signature: str | None = None, forwarded_for: str | None = None
    ) -> ClientConnection:
        """Upgrade with Twilio's signature (or `signature` as given; `UNSIGNED` sends no header);
        `forwarded_for` is the X-Forwarded-For a proxy in front of the streamer would send."""
        if signature is None:
            signature = sign_stream(self.auth_token, self.stream_url)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        self.ws = await connect(
            self.server_url, additional_headers=headers, compression=None, proxy=None, open_timeout=5
        )
        return self.ws

    async def start(
        self,
        tracks: tuple[str, ...] = ("inbound", "outbound"),
        custom_parameters: dict[str, str] | None = None,
        *,
        signed: bool = True,
    ) -> None:
        """`connected` then `start`; `signed` adds the stream token for this call's parameters."""
        if signed:
            custom_parameters = signed_parameters(self.auth_token, self.call_sid, custom_parameters)
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send_json(
            {
                "event": "start",
                "sequenceNumber": self._next_sequence(),
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": list(tracks),
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": custom_parameters or {},
                },
                "streamSid": self.stream_sid,
            }
        )

    def media_message(self, track: str, payload: bytes, timestamp_ms: int) -> str:
        chunk = self._chunks.get(track, 0) + 1
        self._chunks[track] = chunk
        return json.dumps(
            {
                "event": "media",
                "sequenceNumber": self._next_sequence(),
                "media": {
                    "track": track,
                    "chunk": str(chunk),
                    "timestamp": str(timestamp_ms),
                    "payload": base64.b64encode(payload).decode("ascii"),
                },
                "streamSid": self.stream_sid,
            }
        )

    async def media(self, track: str, payload: bytes, timestamp_ms: int) -> None:
        await self.send_raw(self.media_message(track, payload, timestamp_ms))

    async def play(
        self,
        tracks: dict[str, bytes],
        *,
        start_ms: int = 0,
        realtime: bool = False,
        skip_ms: dict[str, tuple[int, int]] | None = None,
    ) -> int:
        """Send each track's audio as interleaved 20 ms frames; returns the next timestamp (ms).

        `skip_ms` = {track: (from_ms, to_ms)} leaves a hole in a track's frames (Twilio timestamps
        jump over it) to exercise gap handling. `realtime` paces frames at 20 ms like Twilio.
        """
        longest = max(len(audio) for audio in tracks.values())
        frames = (longest + FRAME_BYTES - 1) // FRAME_BYTES
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for index in range(frames):
            timestamp = start_ms + index * 20
            for track, audio in tracks.items():
                piece = audio[index * FRAME_BYTES : (index + 1) * FRAME_BYTES]
                hole = (skip_ms or {}).get(track)
                if piece and not (hole and hole[0] <= timestamp - start_ms < hole[1]):
                    await self.media(track, piece, timestamp)
            if realtime:
                delay = t0 + (index + 1) * 0.02 - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
        return start_ms + frames * 20

    async def dtmf(self, digit: str) -> None:
        await self.send_json(
            {
                "event": "dtmf",
                "sequenceNumber": self._next_sequence(),
                "dtmf": {"track": "inbound_track", "digit": digit},
                "streamSid": self.stream_sid,
            }
        )

    async def stop(self) -> None:
        await self.send_json(
            {
                "event": "stop",
                "sequenceNumber": self._next_sequence(),
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                "streamSid": self.stream_sid,
            }
        )

    async def send_json(self, doc: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(doc))

    async def send_raw(self, data: str | bytes) -> None:
        assert self.ws is not None, "open() first"
        await self.ws.send(data)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def wait_closed(self) -> None:
        assert self.ws is not None
        await self.ws.wait_closed()

    def _next_sequence(self) -> str:
        self._sequence += 1
        return str(self._sequence)
