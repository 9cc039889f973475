"""The groups claim in each shape it arrives in, and what the groups allow."""

from __future__ import annotations

import pytest

from shared.access import SUPERVISORS, VIEWERS, claims_groups, groups_of, may_hear, may_view

BOTH = frozenset({VIEWERS, SUPERVISORS})


@pytest.mark.parametrize(
    "value",
    [
        [VIEWERS, SUPERVISORS],  # the token itself
        f"{VIEWERS},{SUPERVISORS}",  # REST API's Cognito authoriser
        f"[{VIEWERS} {SUPERVISORS}]",  # HTTP API's JWT authoriser
        f"[{VIEWERS}, {SUPERVISORS}]",
        f'["{VIEWERS}","{SUPERVISORS}"]',  # JSON text
        f" {VIEWERS} , {SUPERVISORS} ",
    ],
)
def test_every_serialisation_of_two_groups(value: object) -> None:
    assert groups_of(value) == BOTH


@pytest.mark.parametrize("value", [None, "", "[]", [], 42, {"a": 1}, [None, 3], ","])
def test_nothing_readable_grants_nothing(value: object) -> None:
    assert groups_of(value) == frozenset()
    assert not may_view(groups_of(value))


def test_one_group_as_a_bare_string() -> None:
    assert groups_of(VIEWERS) == {VIEWERS}
    assert groups_of(f"[{VIEWERS}]") == {VIEWERS}


def test_a_group_name_must_match_whole() -> None:
    assert not may_view(groups_of("callscribe-viewers-old,xcallscribe-viewers"))


def test_recordings_need_both_groups() -> None:
    assert may_view(frozenset({VIEWERS}))
    assert not may_hear(frozenset({VIEWERS}))
    assert not may_hear(frozenset({SUPERVISORS}))  # a supervisor who is no viewer sees no call
    assert may_hear(BOTH)


def test_claims_without_the_claim() -> None:
    assert claims_groups({"sub": "x"}) == frozenset()
    assert claims_groups({"cognito:groups": f"{VIEWERS}"}) == {VIEWERS}
