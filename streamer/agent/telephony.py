"""Ending and transferring calls through Twilio's REST API (TWILIO_API_BASE_URL).

The twilio client is synchronous, so calls run in a thread; one client per account per process. A
transfer replaces the call's TwiML with `<Dial>`: Twilio then leaves our `<Connect><Stream>` (it
sends `stop`) and rings the number, with the caller still on the line.
"""

from __future__ import annotations

import asyncio

from twilio.base.exceptions import TwilioException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse


class CallControlError(RuntimeError):
    """Twilio refused or could not be reached: the message says why (goes back to the model)."""


class CallControl:
    def __init__(self, auth_token: str, base_url: str, account_sid: str | None = None) -> None:
        self._token = auth_token
        self._base_url = base_url.rstrip("/")
        self._default_account = account_sid
        self._clients: dict[str, Client] = {}

    def _client(self, account_sid: str) -> Client:
        account = self._default_account or account_sid
        client = self._clients.get(account)
        if client is None:
            client = Client(account, self._token)
            client.api.base_url = self._base_url
            self._clients[account] = client
        return client

    async def hang_up(self, account_sid: str, call_sid: str) -> None:
        await self._update(account_sid, call_sid, status="completed")

    async def transfer(self, account_sid: str, call_sid: str, number: str) -> None:
        response = VoiceResponse()
        response.dial(number)
        await self._update(account_sid, call_sid, twiml=str(response))

    async def _update(self, account_sid: str, call_sid: str, **fields: str) -> None:
        client = self._client(account_sid)

        def call() -> None:
            client.calls(call_sid).update(**fields)

        try:
            await asyncio.to_thread(call)
        except TwilioException as exc:
            raise CallControlError(str(exc)[:300]) from exc
        except OSError as exc:
            raise CallControlError(f"Twilio unreachable: {exc}"[:300]) from exc
