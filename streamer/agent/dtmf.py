"""DTMF tones as 8 kHz mu-law audio, played into the call like speech (Twilio's stream cannot send
digits any other way): each digit is the sum of its row and column sine waves (ITU-T Q.23), encoded
by `streamer.audio`'s G.711 codec; 100 ms of tone then 80 ms of silence; `w` is a 500 ms pause (the
dial-string convention)."""

from __future__ import annotations

import math
import re

from streamer.audio import MULAW_SILENCE, linear_to_mulaw

SAMPLE_RATE = 8000
TONE_MS = 100
GAP_MS = 80
PAUSE_MS = 500
VALID = re.compile(r"^[0-9*#A-Dw]{1,32}$")
_ROWS = (697, 770, 852, 941)
_COLUMNS = (1209, 1336, 1477, 1633)
_KEYPAD = ("123A", "456B", "789C", "*0#D")
FREQUENCIES = {key: (_ROWS[r], _COLUMNS[c]) for r, row in enumerate(_KEYPAD) for c, key in enumerate(row)}


def tone(digit: str, millis: int = TONE_MS, amplitude: float = 0.35) -> bytes:
    low, high = FREQUENCIES[digit]
    count = SAMPLE_RATE * millis // 1000
    peak = 32767 * amplitude
    return bytes(
        linear_to_mulaw(
            int(
                peak
                * (
                    math.sin(2 * math.pi * low * n / SAMPLE_RATE)
                    + math.sin(2 * math.pi * high * n / SAMPLE_RATE)
                )
            )
        )
        for n in range(count)
    )


def silence(millis: int) -> bytes:
    return bytes([MULAW_SILENCE]) * (SAMPLE_RATE * millis // 1000)


def dtmf_audio(digits: str) -> bytes:
    """The whole dial string as one mu-law buffer; ValueError for anything but 0-9 * # A-D w."""
    if not VALID.fullmatch(digits):
        raise ValueError("digits must be 1-32 of 0-9, *, #, A-D or w (pause)")
    parts = [silence(PAUSE_MS) if d == "w" else tone(d) + silence(GAP_MS) for d in digits]
    return b"".join(parts)
