"""Which numbers `POST /calls` may dial: an allow-list of E.164 prefixes (docs/configuration.md).

Both numbers of an outbound call are dialled at our cost (`to` by Twilio's REST call, `connectTo`
by the answered leg's `<Dial>`), so both must start with an allowed prefix; a refused request
writes nothing and calls nothing (403). `OUTBOUND_ALLOWED_PREFIXES` sets the list; unset, it is the
country calling codes of the numbers the deployment is configured with (`CALL_ROUTES`' numbers,
forwards and transfers, and `TWILIO_FROM_NUMBER`), so a US deployment dials +1 and nothing else.
A change must keep: no configured number and no setting means no destination at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.errors import CallscribeError
from shared.patterns import E164_PREFIX_PATTERN
from shared.routing import AgentRoute, CallRoutes, ForwardRoute

_PREFIX = re.compile(E164_PREFIX_PATTERN)

# ITU-T E.164 country calling codes are prefix-free: these are the one- and two-digit ones (North
# America's +1 and Russia/Kazakhstan's +7; Egypt, South Africa, most of Europe, South America and
# Asia's large countries); every other code has three digits.
_ONE_DIGIT = frozenset({"1", "7"})
_TWO_DIGITS = frozenset(
    {"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47"}
    | {"48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65"}
    | {"66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"}
)


class DestinationNotAllowedError(CallscribeError):
    """A number `POST /calls` would dial starts with no allowed prefix: 403, nothing written."""

    def __init__(self, field: str, allowed: tuple[str, ...]) -> None:
        listed = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f'"{field}" is not a destination this deployment dials (allowed prefixes: {listed}; '
            "OUTBOUND_ALLOWED_PREFIXES sets them)"
        )
        self.field = field


def parse_prefixes(value: object) -> tuple[str, ...] | None:
    """`OUTBOUND_ALLOWED_PREFIXES`: comma-separated text (or a list); blank is unset (None). A
    ValueError names what is not an E.164 prefix."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("must be comma-separated E.164 prefixes such as +1,+44")  # noqa: TRY004
    prefixes = tuple(item.strip() if isinstance(item, str) else item for item in items)
    prefixes = tuple(p for p in prefixes if p != "")
    bad = [p for p in prefixes if not (isinstance(p, str) and _PREFIX.fullmatch(p))]
    if bad:
        raise ValueError(f"not E.164 prefixes (+ and up to 15 digits, the first not 0): {bad}")
    return prefixes or None


def country_calling_code(number: str) -> str:
    """`+44` of `+442071838750`: the E.164 number's country calling code, with its `+`."""
    digits = number.removeprefix("+")
    if digits[:1] in _ONE_DIGIT:
        return "+" + digits[:1]
    if digits[:2] in _TWO_DIGITS:
        return "+" + digits[:2]
    return "+" + digits[:3]


def configured_numbers(routes: CallRoutes, from_number: str | None) -> list[str]:
    """The E.164 numbers the deployment names: route keys, forwards, agent transfers, the caller ID."""
    numbers = [key for key in routes.routes if key.startswith("+")]
    for route in routes.routes.values():
        if isinstance(route, ForwardRoute):
            numbers.append(route.forward_to)
        elif isinstance(route, AgentRoute) and route.agent.transfer_to:
            numbers.append(route.agent.transfer_to)
    if from_number:
        numbers.append(from_number)
    return numbers


def allowed_prefixes(explicit: tuple[str, ...] | None, numbers: Iterable[str]) -> tuple[str, ...]:
    """The setting when given, else the configured numbers' country codes (sorted, once each)."""
    if explicit is not None:
        return explicit
    return tuple(sorted({country_calling_code(number) for number in numbers}))


def check_destinations(allowed: tuple[str, ...], **numbers: str) -> None:
    """Raise DestinationNotAllowedError naming the first field whose number no prefix allows."""
    for field, number in numbers.items():
        if not any(number.startswith(prefix) for prefix in allowed):
            raise DestinationNotAllowedError(field, allowed)
