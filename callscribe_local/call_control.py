"""What the agent's REST updates do to the simulated phone's call: the phone's side of the Twilio
stand-in's live calls (`twilio_rest`: the calls a phone keeps there, and the updates they get).

`TwilioControl` long-polls the stand-in for one call's updates (`Status`, `Twiml`, `Url`, in order);
`dialled_number` reads the number a transfer's TwiML rings. Stand-in only: Twilio itself acts on its
calls, nobody polls it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import httpx

CONTROL_WAIT_SECONDS = 5.0  # one long poll of the Twilio stand-in


@dataclass(frozen=True)
class CallUpdate:
    """A REST update of the call as the Twilio stand-in received it (`Status`, `Twiml` or `Url`)."""

    status: str | None
    twiml: str | None
    url: str | None


class TwilioControl:
    """Follows the call's REST updates at the Twilio stand-in (a stand-in-only long poll)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, account_sid: str, auth_token: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._auth = (account_sid, auth_token)

    async def updates(self, call_sid: str, after: int) -> list[CallUpdate]:
        response = await self._http.get(
            f"{self._base}/_local/calls/{call_sid}/updates",
            params={"after": after, "wait": CONTROL_WAIT_SECONDS},
            auth=self._auth,
            timeout=CONTROL_WAIT_SECONDS + 10,
        )
        response.raise_for_status()
        return [CallUpdate(u.get("status"), u.get("twiml"), u.get("url")) for u in response.json()["updates"]]


def dialled_number(twiml: str) -> str | None:
    """The number a `<Dial>` in TwiML rings (`<Dial>+1…</Dial>` or `<Dial><Number>`), if any."""
    try:
        root = ET.fromstring(twiml)  # noqa: S314 - the agent's own TwiML, as the local stand-in kept it
    except ET.ParseError:
        return None
    dial = root.find("Dial")
    if dial is None:
        return None
    number = dial.find("Number")
    text = (number.text if number is not None else dial.text) or ""
    return text.strip() or None
