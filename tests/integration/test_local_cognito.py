"""moto's Cognito as the local stack uses it: sign-in, refresh, and the token checks AWS's authorisers
make (signature against the JWKS, issuer, token use, audience, expiry), then the local API Gateway's
Cognito authoriser built on them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from callscribe_local.apigw import CognitoAuthorizer, LocalApiGateway
from callscribe_local.aws_local import LOCAL_REGION, LocalAws
from callscribe_local.cognito import (
    InvalidTokenError,
    SignInError,
    TokenVerifier,
    UserPool,
    add_user,
    create_local_pool,
    fetch_jwks,
    new_password,
    refresh,
    sign_in,
)
from shared.access import GROUPS_CLAIM, SUPERVISORS, VIEWERS, claims_groups
from tests.support.people import (  # noqa: F401 - fixtures
    Person,
    people_pool_fixture,
    person_fixture,
    supervisor_fixture,
    viewer_fixture,
)

pytestmark = pytest.mark.integration


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def reforged(token: str, key: Any, **changes: Any) -> str:
    """The token's claims (changed as asked) signed by `key` with moto's `kid`."""
    claims = {**claims_of(token), **changes}
    alg = "HS256" if isinstance(key, OctKey) else "RS256"
    return jwt.encode({"alg": alg, "kid": "dummy", "typ": "JWT"}, claims, key)


def test_a_person_signs_in_and_their_id_token_verifies(people_pool: UserPool, supervisor: Person) -> None:
    claims = TokenVerifier(people_pool).verify(supervisor.id_token)
    assert claims["email"] == supervisor.email
    assert claims["token_use"] == "id"
    assert claims["cognito:username"] == claims["sub"] != supervisor.email  # email is the sign-in alias
    assert claims_groups(claims) == {VIEWERS, SUPERVISORS}


def test_a_wrong_password_is_refused(people_pool: UserPool, viewer: Person) -> None:
    with pytest.raises(SignInError, match="wrong"):
        sign_in(people_pool, viewer.email, viewer.password + "x")
    with pytest.raises(SignInError):
        sign_in(people_pool, "nobody@example.com", viewer.password)


def test_refresh_gives_new_tokens_that_verify(people_pool: UserPool, viewer: Person) -> None:
    assert viewer.tokens.refresh_token is not None
    renewed = refresh(people_pool, viewer.tokens.refresh_token)
    assert renewed.refresh_token == viewer.tokens.refresh_token
    assert TokenVerifier(people_pool).verify(renewed.id_token)["email"] == viewer.email


def test_adding_a_person_twice_keeps_them_and_adds_the_group(people_pool: UserPool) -> None:
    email = "twice@example.com"
    password = new_password()
    assert add_user(people_pool, email, [VIEWERS], password=password) is True
    assert add_user(people_pool, email, [SUPERVISORS], password=password) is False
    claims = TokenVerifier(people_pool).verify(sign_in(people_pool, email, password).id_token)
    assert claims_groups(claims) == {VIEWERS, SUPERVISORS}


def test_a_token_of_another_pool_is_refused(local_stack: LocalAws, viewer: Person) -> None:
    other = create_local_pool(local_stack.endpoint, LOCAL_REGION)  # moto signs it with the same key
    with pytest.raises(InvalidTokenError, match="another user pool"):
        TokenVerifier(other).verify(viewer.id_token)


def test_a_token_for_another_app_client_is_refused(people_pool: UserPool, viewer: Person) -> None:
    client = people_pool.client().create_user_pool_client(
        UserPoolId=people_pool.pool_id, ClientName="other", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]
    other_client = UserPool(people_pool.region, people_pool.pool_id, client["ClientId"], people_pool.endpoint)
    token = sign_in(other_client, viewer.email, viewer.password).id_token
    with pytest.raises(InvalidTokenError, match="another app client"):
        TokenVerifier(people_pool).verify(token)


def test_access_tokens_only_where_asked_for(people_pool: UserPool, viewer: Person) -> None:
    with pytest.raises(InvalidTokenError, match="token_use 'access'"):
        TokenVerifier(people_pool).verify(viewer.tokens.access_token)
    either = TokenVerifier(people_pool, token_use=None)
    assert either.verify(viewer.tokens.access_token)["client_id"] == people_pool.client_id
    assert either.verify(viewer.id_token)["aud"] == people_pool.client_id


def test_an_expired_token_is_refused(people_pool: UserPool, viewer: Person) -> None:
    expires = claims_of(viewer.id_token)["exp"]
    assert TokenVerifier(people_pool, now=lambda: expires - 1).verify(viewer.id_token)
    with pytest.raises(InvalidTokenError, match="expired"):
        TokenVerifier(people_pool, now=lambda: expires).verify(viewer.id_token)


def test_forged_and_tampered_tokens_are_refused(people_pool: UserPool, viewer: Person) -> None:
    verifier = TokenVerifier(people_pool)
    impostor = RSAKey.generate_key(2048, parameters={"kid": "dummy"})
    with pytest.raises(InvalidTokenError, match="signature"):
        verifier.verify(reforged(viewer.id_token, impostor, **{GROUPS_CLAIM: [VIEWERS, SUPERVISORS]}))
    with pytest.raises(InvalidTokenError):  # HMAC "signed" with a key of the attacker's choosing
        verifier.verify(reforged(viewer.id_token, OctKey.generate_key(256)))
    header, _, signature = viewer.id_token.split(".")
    payload = base64.urlsafe_b64encode(
        json.dumps({**claims_of(viewer.id_token), GROUPS_CLAIM: [VIEWERS, SUPERVISORS]}).encode()
    )
    with pytest.raises(InvalidTokenError, match="signature"):
        verifier.verify(f"{header}.{payload.decode().rstrip('=')}.{signature}")
    for garbage in ("", "not-a-token", "a.b.c"):
        with pytest.raises(InvalidTokenError):
            verifier.verify(garbage)


@pytest.mark.parametrize(("refetch_after", "fetches_after_unknown_kid"), [(0.0, 2), (3600.0, 1)])
def test_an_unknown_key_id_refetches_the_keys_at_most_once_per_window(
    people_pool: UserPool, viewer: Person, refetch_after: float, fetches_after_unknown_kid: int
) -> None:
    fetches: list[UserPool] = []

    def counting(pool: UserPool) -> dict[str, Any]:
        fetches.append(pool)
        return fetch_jwks(pool)

    verifier = TokenVerifier(people_pool, jwks=counting, refetch_after=refetch_after)
    verifier.verify(viewer.id_token)
    assert len(fetches) == 1
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rotated"})
    forged = jwt.encode({"alg": "RS256", "kid": "rotated"}, claims_of(viewer.id_token), rotated)
    with pytest.raises(InvalidTokenError, match="does not publish"):
        verifier.verify(forged)
    assert len(fetches) == fetches_after_unknown_kid
    verifier.verify(viewer.id_token)  # the known key still works without a fetch
    assert len(fetches) == fetches_after_unknown_kid


# ---- the local API Gateway's Cognito authoriser ---------------------------------------------------


@pytest.fixture
def guarded(people_pool: UserPool) -> Iterator[tuple[LocalApiGateway, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    authorizer = CognitoAuthorizer(TokenVerifier(people_pool))
    with LocalApiGateway(handler, stage="api", resources=("/calls",), authorizer=authorizer) as gateway:
        yield gateway, seen


def test_the_authoriser_refuses_requests_without_a_valid_id_token(
    guarded: tuple[LocalApiGateway, list[dict[str, Any]]], viewer: Person
) -> None:
    gateway, seen = guarded
    for headers in ({}, {"Authorization": "nonsense"}, {"Authorization": viewer.tokens.access_token}):
        response = httpx.get(f"{gateway.url}/calls", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
    assert seen == []  # the handler never ran


def test_the_authoriser_passes_the_claims_on_as_api_gateway_does(
    guarded: tuple[LocalApiGateway, list[dict[str, Any]]], supervisor: Person
) -> None:
    gateway, seen = guarded
    for value in (supervisor.id_token, f"Bearer {supervisor.id_token}"):
        assert httpx.get(f"{gateway.url}/calls", headers={"Authorization": value}).status_code == 200
    claims = seen[-1]["requestContext"]["authorizer"]["claims"]
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["email"] == supervisor.email
    assert set(claims[GROUPS_CLAIM].split(",")) == {VIEWERS, SUPERVISORS}
    assert claims_groups(claims) == {VIEWERS, SUPERVISORS}
    assert claims["exp"].endswith(" UTC " + claims["exp"][-4:])  # "Mon Dec 07 19:26:16 UTC 2026"
