"""The person behind a request: claims as API Gateway passes them, what the groups allow, what is logged."""

from __future__ import annotations

import pytest

from functions.console_api.access import AccessDeniedError, Person
from shared.access import SUPERVISORS, VIEWERS


def test_groups_from_the_authorisers_string() -> None:
    person = Person.from_claims({"sub": "u-1", "cognito:groups": f"{VIEWERS},{SUPERVISORS}"})
    person.require_viewer()
    person.require_supervisor()


def test_a_viewer_is_no_supervisor_and_a_stranger_is_neither() -> None:
    viewer = Person.from_claims({"sub": "u-1", "cognito:groups": VIEWERS})
    viewer.require_viewer()
    with pytest.raises(AccessDeniedError, match="supervisors"):
        viewer.require_supervisor()
    stranger = Person.from_claims({"sub": "u-2"})
    with pytest.raises(AccessDeniedError, match="viewers"):
        stranger.require_viewer()


@pytest.mark.parametrize("claims", [None, {}, {"cognito:groups": VIEWERS}])
def test_no_person_no_access(claims: dict[str, str] | None) -> None:
    with pytest.raises(AccessDeniedError):
        Person.from_claims(claims)


def test_the_log_names_the_sub_never_an_email() -> None:
    assert Person.from_claims({"sub": "u-1", "cognito:username": "ann@example.com"}).log_keys() == {
        "user_sub": "u-1"
    }
    assert Person.from_claims({"sub": "u-1", "cognito:username": "ann"}).log_keys() == {
        "user_sub": "u-1",
        "username": "ann",
    }
