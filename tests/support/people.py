"""People for the tests: moto's Cognito pool on the session's moto server, and signed-in users.

`people_pool` (session) is a pool shaped like the local stack's; `person(groups)` adds a fresh user
to it and signs them in, so each test holds tokens with exactly the groups it is about. A test module
imports the `*_fixture` functions it uses (their fixture names drop the suffix).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pytest

from callscribe_local.aws_local import LOCAL_REGION, LocalAws
from callscribe_local.cognito import Tokens, UserPool, add_user, create_local_pool, new_password, sign_in
from shared.access import SUPERVISORS, VIEWERS


@dataclass(frozen=True)
class Person:
    email: str
    password: str
    tokens: Tokens

    @property
    def id_token(self) -> str:
        return self.tokens.id_token


@pytest.fixture(scope="session", name="people_pool")
def people_pool_fixture(local_stack: LocalAws) -> UserPool:
    return create_local_pool(local_stack.endpoint, LOCAL_REGION)


def make_person(pool: UserPool, groups: Iterable[str]) -> Person:
    email = f"person-{uuid.uuid4().hex[:10]}@example.com"
    password = new_password()
    add_user(pool, email, list(groups), password=password)
    return Person(email=email, password=password, tokens=sign_in(pool, email, password))


@pytest.fixture(name="person")
def person_fixture(people_pool: UserPool) -> Callable[..., Person]:
    """`person(VIEWERS, SUPERVISORS)`: a new signed-in user in exactly those groups."""

    def make(*groups: str) -> Person:
        return make_person(people_pool, groups)

    return make


@pytest.fixture(name="viewer")
def viewer_fixture(person: Callable[..., Person]) -> Person:
    result: Person = person(VIEWERS)
    return result


@pytest.fixture(name="supervisor")
def supervisor_fixture(person: Callable[..., Person]) -> Person:
    result: Person = person(VIEWERS, SUPERVISORS)
    return result
