"""People for the console's browser tests: a Cognito user pool on moto (real JWTs), the app client the
console signs in with, the two groups, and three people (a supervisor, a viewer, one with no group),
plus an ID-token check for the test back end (moto signs every token with the key it ships).
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import boto3
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

VIEWERS = "callscribe-viewers"
SUPERVISORS = "callscribe-supervisors"


@dataclass(frozen=True)
class Person:
    username: str
    password: str
    groups: tuple[str, ...]


SUPERVISOR = Person("supervisor@example.com", "Supervisor-pass-1", (VIEWERS, SUPERVISORS))
VIEWER = Person("viewer@example.com", "Viewer-pass-1", (VIEWERS,))
OUTSIDER = Person("outsider@example.com", "Outsider-pass-1", ())


@dataclass
class Pool:
    endpoint: str
    region: str
    pool_id: str
    client_id: str
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    def client(self) -> Any:
        return boto3.client("cognito-idp", endpoint_url=self.endpoint, region_name=self.region)

    def add(self, person: Person, *, temporary: bool = False) -> None:
        """Create `person` (with a temporary password: Cognito asks for a new one at first sign-in)."""
        cognito = self.client()
        cognito.admin_create_user(
            UserPoolId=self.pool_id,
            Username=person.username,
            TemporaryPassword=person.password,
            UserAttributes=[{"Name": "email", "Value": person.username}],
            MessageAction="SUPPRESS",
        )
        if not temporary:
            cognito.admin_set_user_password(
                UserPoolId=self.pool_id, Username=person.username, Password=person.password, Permanent=True
            )
        for group in person.groups:
            cognito.admin_add_user_to_group(
                UserPoolId=self.pool_id, Username=person.username, GroupName=group
            )
        self.people[person.username] = person

    def tokens(self, person: Person) -> dict[str, Any]:
        answer = self.client().initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=self.client_id,
            AuthParameters={"USERNAME": person.username, "PASSWORD": person.password},
        )
        result: dict[str, Any] = answer["AuthenticationResult"]
        return result


def create_pool(endpoint: str, region: str = "us-east-1") -> Pool:
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=region)
    pool_id = cognito.create_user_pool(
        PoolName=f"callscribe-people-{time.monotonic_ns()}",
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="callscribe-console",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        GenerateSecret=False,
    )["UserPoolClient"]["ClientId"]
    for group in (VIEWERS, SUPERVISORS):
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    pool = Pool(endpoint=endpoint, region=region, pool_id=pool_id, client_id=client_id)
    for person in (SUPERVISOR, VIEWER, OUTSIDER):
        pool.add(person)
    return pool


def _moto_public_keys() -> KeySet:
    data = resources.files("moto.cognitoidp").joinpath("resources/jwks-public.json.gz").read_bytes()
    return KeySet.import_key_set(json.loads(gzip.decompress(data)))


class TokenCheck:
    """The claims of a valid ID token of `pool` (signature, issuer, audience, use, expiry), else None.
    The doubles answer 401 / refuse the feed on None, as the real authorisers do."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.keys = _moto_public_keys()
        self.revoked: set[str] = set()  # tokens a test declares dead (a 401 the console must survive)

    def claims(self, token: str | None) -> dict[str, Any] | None:
        if not token or token in self.revoked:
            return None
        try:
            decoded = jwt.decode(token, self.keys)
        except (JoseError, ValueError):
            return None
        claims = dict(decoded.claims)
        if (
            claims.get("iss") != self.pool.issuer
            or claims.get("token_use") != "id"
            or claims.get("aud") != self.pool.client_id
            or float(claims.get("exp", 0)) <= time.time()
        ):
            return None
        return claims


def groups(claims: dict[str, Any]) -> set[str]:
    value = claims.get("cognito:groups") or []
    return set(value if isinstance(value, list) else str(value).split(","))
