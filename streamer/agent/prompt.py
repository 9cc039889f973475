"""The agent's system prompt and tools: what Claude is told, versioned as files.

The prompt text lives in `prompts/receptionist-<version>.md` (AGENT_PROMPT_VERSION picks one), so a
change to what every caller hears is a reviewed file change with a new version, and the version is
logged with every call. The system block carries `cache_control`: it is identical on every turn of a
call (and across calls of a route), so after the first turn it is read from the prompt cache.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

_PROMPTS = Path(__file__).parent / "prompts"
_PLACEHOLDER = "{{instructions}}"


@cache
def template(version: str) -> str:
    path = _PROMPTS / f"receptionist-{version}.md"
    if not path.is_file():
        available = sorted(p.stem.removeprefix("receptionist-") for p in _PROMPTS.glob("receptionist-*.md"))
        raise ValueError(f"no agent prompt version {version!r} (available: {', '.join(available)})")
    text = path.read_text(encoding="utf-8")
    if _PLACEHOLDER not in text:
        raise ValueError(f"agent prompt {path.name} lacks the {_PLACEHOLDER} placeholder")
    return text


def system_blocks(version: str, instructions: str) -> list[dict[str, Any]]:
    text = template(version).replace(_PLACEHOLDER, instructions.strip())
    return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]


END_CALL = "end_call"
TRANSFER_CALL = "transfer_call"
SEND_DTMF = "send_dtmf"


def tools(transfer_numbers: list[str]) -> list[dict[str, Any]]:
    """The three call-control tools. The transfer tool names the numbers it accepts, so the model
    never has to guess (and anything else is refused by the code anyway)."""
    if transfer_numbers:
        transfer_hint = (
            " Without `number` the caller goes to the line's default destination. Allowed numbers: "
            + ", ".join(transfer_numbers)
            + "."
        )
    else:
        transfer_hint = " Allowed only to the line's default destination."
    return [
        {
            "name": END_CALL,
            "description": "Hang up the call after your last words have been heard. Say goodbye first.",
            "input_schema": {
                "type": "object",
                "properties": {"reason": {"type": "string", "description": "Why the call ends."}},
            },
        },
        {
            "name": TRANSFER_CALL,
            "description": "Transfer the caller to a person, after your last words have been heard."
            + transfer_hint,
            "input_schema": {
                "type": "object",
                "properties": {
                    "number": {"type": "string", "description": "E.164 number, e.g. +14155550111."},
                    "reason": {"type": "string"},
                },
            },
        },
        {
            "name": SEND_DTMF,
            "description": "Play keypad tones into the call (for automated phone menus). "
            "Digits 0-9, *, #, A-D; w is a half-second pause.",
            "input_schema": {
                "type": "object",
                "properties": {"digits": {"type": "string", "pattern": "^[0-9*#A-Dw]{1,32}$"}},
                "required": ["digits"],
            },
        },
    ]
