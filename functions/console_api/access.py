"""Who is asking: the person API Gateway's Cognito authoriser let in, and what their groups allow.

The authoriser (infra: a Cognito user pool authoriser on every route) has already refused anyone
without a valid token of the pool (401). Its claims arrive in `requestContext.authorizer.claims`,
every value a string; the groups are read with `shared.access.groups_of`, which takes each shape
they come in. No claims at all means the route was reached without the authoriser: refused too.
What is logged of a person is their `sub` (their username too when it is not an email address),
never their email.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.access import claims_groups, may_hear, may_view
from shared.errors import CallscribeError


class AccessDeniedError(CallscribeError):
    """Signed in, but not allowed this (answered 403)."""


@dataclass(frozen=True)
class Person:
    sub: str
    username: str | None
    groups: frozenset[str]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> Person:
        if not claims or not claims.get("sub"):
            raise AccessDeniedError("no signed-in person on this request")
        username = claims.get("cognito:username")
        return cls(
            sub=str(claims["sub"]),
            username=None if username is None else str(username),
            groups=claims_groups(claims),
        )

    def log_keys(self) -> dict[str, str]:
        """Who, for the audit log: the sub, and the username unless it is an email address."""
        keys = {"user_sub": self.sub}
        if self.username and "@" not in self.username:
            keys["username"] = self.username
        return keys

    def require_viewer(self) -> None:
        if not may_view(self.groups):
            raise AccessDeniedError("calls are for the callscribe-viewers group")

    def require_supervisor(self) -> None:
        if not may_hear(self.groups):
            raise AccessDeniedError("recordings are for the callscribe-supervisors group")
