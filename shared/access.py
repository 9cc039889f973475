"""Who may see what: the people's groups, and reading them from a token's claims.

Two Cognito groups (the contract's names): `callscribe-viewers` may read calls, transcripts,
summaries and costs and follow the live feed; `callscribe-supervisors` may also get recordings.
Every check is made on the server side (the read API's Lambda, the feed's subscribe handler, and
locally their stand-ins) from the `cognito:groups` claim, which arrives in more than one shape: a
JSON list in the token itself, a string in API Gateway's `requestContext.authorizer.claims` (REST
APIs join the groups with commas, HTTP APIs write `[a b]`). `groups_of` reads all of them; a value
it cannot read grants nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

VIEWERS: Final = "callscribe-viewers"
SUPERVISORS: Final = "callscribe-supervisors"
# what `callscribe users add --group` takes, and the group each name means
GROUPS: Final[Mapping[str, str]] = {"viewers": VIEWERS, "supervisors": SUPERVISORS}
GROUPS_CLAIM: Final = "cognito:groups"


def groups_of(value: object) -> frozenset[str]:
    """The group names in a `cognito:groups` claim value, whichever way it was serialised."""
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(item for item in value if isinstance(item, str) and item)
    if not isinstance(value, str):
        return frozenset()
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return groups_of(parsed)
        text = text[1:-1]  # `[a b]` or `[a, b]`: not JSON, a list API Gateway printed
    separators = text.replace(",", " ").split()
    return frozenset(name for name in separators if name)


def claims_groups(claims: Mapping[str, object]) -> frozenset[str]:
    return groups_of(claims.get(GROUPS_CLAIM))


def may_view(groups: frozenset[str]) -> bool:
    """Calls, transcripts, summaries, costs and the live feed."""
    return VIEWERS in groups


def may_hear(groups: frozenset[str]) -> bool:
    """Recordings as well: supervisors who are also viewers (a supervisor who is no viewer sees no
    call, so gets none of its recordings either)."""
    return VIEWERS in groups and SUPERVISORS in groups
