"""The people's sign-in: a Cognito user pool (moto's locally, the stack's in AWS) and its tokens.

`create_local_pool` sets up on moto what infra sets up in AWS (pool, app client, the groups of
`shared.access`); `add_user` adds a person to groups; `sign_in` / `refresh` speak `InitiateAuth`
unsigned, as the browser does. `TokenVerifier` is what API Gateway's Cognito authoriser and
AppSync's Cognito auth do with a token, for the local stand-ins. Must keep: a token is accepted
only after a real RS256 check against the pool's JWKS, then `iss`, `token_use`, the audience and
`exp`; the issuer and the JWKS URL are separate inputs, because moto names AWS's issuer but serves
the JWKS itself (docs/local.md, "The parts, and how faithful each one is").
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from botocore import UNSIGNED
from botocore.config import Config
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from shared.access import GROUPS

LOCAL_POOL_NAME = "callscribe-people"
LOCAL_CLIENT_NAME = "callscribe-console"
LOCAL_USER = "console@callscribe.local"  # the local stack's one person (both groups)
_MOTO_JWKS_HEADERS = {"X-Amz-Target": "AWSCognitoIdentityProviderService.GetJwks"}
_JWKS_REFRESH_SECONDS = 60.0  # an unknown `kid` refetches the keys at most this often


class InvalidTokenError(Exception):
    """A token the pool did not issue for this client, or no longer valid; the message says why."""


class SignInError(Exception):
    """Cognito refused the sign-in (wrong password, unknown user, flow not allowed)."""


@dataclass(frozen=True)
class UserPool:
    """Where a pool is and which app client signs people in to it."""

    region: str
    pool_id: str
    client_id: str
    endpoint: str | None = None  # moto's URL locally; None: AWS's regional endpoint

    @property
    def issuer(self) -> str:
        """What the pool's tokens carry as `iss` (moto names AWS's host too)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def idp_url(self) -> str:
        """The Cognito Identity Provider JSON endpoint (InitiateAuth and the admin calls)."""
        return (
            self.endpoint.rstrip("/") + "/"
            if self.endpoint
            else f"https://cognito-idp.{self.region}.amazonaws.com/"
        )

    @property
    def jwks_url(self) -> str:
        if self.endpoint:
            return f"{self.endpoint.rstrip('/')}/{self.pool_id}/.well-known/jwks.json"
        return f"{self.issuer}/.well-known/jwks.json"

    def client(self, *, signed: bool = True) -> Any:
        """A cognito-idp client: signed for the admin calls, unsigned for sign-in (as a browser)."""
        config = Config(retries={"max_attempts": 3, "mode": "standard"})
        if not signed:
            config = config.merge(Config(signature_version=UNSIGNED))
        return boto3.client("cognito-idp", region_name=self.region, endpoint_url=self.endpoint, config=config)


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str | None
    expires_in: int


def create_local_pool(endpoint: str, region: str) -> UserPool:
    """A pool, app client and the two groups on moto at `endpoint`, shaped as infra shapes AWS's."""
    pool = UserPool(region=region, pool_id="", client_id="", endpoint=endpoint)
    cognito = pool.client()
    created = cognito.create_user_pool(
        PoolName=LOCAL_POOL_NAME,
        UsernameAttributes=["email"],  # people sign in with their email; `cognito:username` is the sub
        AutoVerifiedAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},  # no self sign-up
    )["UserPool"]
    pool_id = created["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=LOCAL_CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    for group in GROUPS.values():
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
    return UserPool(region=region, pool_id=pool_id, client_id=client["ClientId"], endpoint=endpoint)


def new_password() -> str:
    """A password Cognito's default policy accepts (upper, lower, digit, symbol, ≥ 8)."""
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(16))
    return f"Cs-{body}-7a"


def add_user(pool: UserPool, email: str, groups: Iterable[str], *, password: str | None = None) -> bool:
    """Create the person (when new) and add them to `groups`; True when the person was created.

    With `password` it is set as permanent (local: nobody can receive an email); without it Cognito
    emails the person a temporary password and asks for a new one at first sign-in (AWS).
    """
    cognito = pool.client()
    created = True
    attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    extra: dict[str, Any] = {"MessageAction": "SUPPRESS"} if password is not None else {}
    try:
        cognito.admin_create_user(
            UserPoolId=pool.pool_id,
            Username=email,
            UserAttributes=attributes,
            DesiredDeliveryMediums=["EMAIL"],
            **extra,
        )
    except cognito.exceptions.UsernameExistsException:
        created = False
    if password is not None:
        cognito.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=email, Password=password, Permanent=True
        )
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=email, GroupName=group)
    return created


def sign_in(pool: UserPool, username: str, password: str) -> Tokens:
    """`InitiateAuth` with `USER_PASSWORD_AUTH`, unsigned (no AWS credentials needed)."""
    return _initiate(pool, "USER_PASSWORD_AUTH", {"USERNAME": username, "PASSWORD": password})


def refresh(pool: UserPool, refresh_token: str) -> Tokens:
    """New ID and access tokens from a refresh token (`REFRESH_TOKEN_AUTH`); the refresh token stays."""
    tokens = _initiate(pool, "REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": refresh_token})
    return Tokens(
        tokens.id_token, tokens.access_token, tokens.refresh_token or refresh_token, tokens.expires_in
    )


def _initiate(pool: UserPool, flow: str, parameters: Mapping[str, str]) -> Tokens:
    cognito = pool.client(signed=False)
    try:
        answer = cognito.initiate_auth(
            ClientId=pool.client_id, AuthFlow=flow, AuthParameters=dict(parameters)
        )
    except (cognito.exceptions.NotAuthorizedException, cognito.exceptions.UserNotFoundException) as exc:
        raise SignInError("the user name or password is wrong") from exc
    result = answer.get("AuthenticationResult")
    if not result:  # a challenge (a new password to set): the console's first sign-in asks for it
        raise SignInError(f"Cognito asks for {answer.get('ChallengeName', 'a challenge')} first")
    return Tokens(
        id_token=result["IdToken"],
        access_token=result["AccessToken"],
        refresh_token=result.get("RefreshToken"),
        expires_in=int(result.get("ExpiresIn", 3600)),
    )


def fetch_jwks(pool: UserPool) -> dict[str, Any]:
    """The pool's public keys (moto needs its Cognito target header to route the request)."""
    headers = _MOTO_JWKS_HEADERS if pool.endpoint else {}
    response = httpx.get(pool.jwks_url, headers=headers, timeout=5.0)
    response.raise_for_status()
    keys: dict[str, Any] = response.json()
    return keys


class TokenVerifier:
    """Checks a pool token as AWS's Cognito authorisers do; thread-safe, keys cached.

    `token_use` is "id" for API Gateway's authoriser without OAuth scopes (it accepts ID tokens),
    None to accept either kind (AppSync's Cognito auth mode). A token naming a key id the cached
    keys lack refetches them, at most once per `refetch_after` seconds (garbage cannot hammer the
    JWKS endpoint).
    """

    def __init__(
        self,
        pool: UserPool,
        *,
        token_use: str | None = "id",  # noqa: S107 - a claim value, not a password
        now: Callable[[], float] = time.time,
        jwks: Callable[[UserPool], Mapping[str, Any]] = fetch_jwks,
        refetch_after: float = _JWKS_REFRESH_SECONDS,
    ) -> None:
        self._pool = pool
        self._refetch_after = refetch_after
        self._token_use = token_use
        self._now = now
        self._fetch = jwks
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; InvalidTokenError naming what failed."""
        if not token or token.count(".") != 2:
            raise InvalidTokenError("not a JWT")
        claims = self._decode(token)
        pool = self._pool
        if claims.get("iss") != pool.issuer:
            raise InvalidTokenError("issued by another user pool")
        use = claims.get("token_use")
        if use not in ("id", "access") or (self._token_use is not None and use != self._token_use):
            raise InvalidTokenError(f"token_use {use!r} is not accepted here")
        audience = claims.get("aud") if use == "id" else claims.get("client_id")
        if audience != pool.client_id:
            raise InvalidTokenError("issued for another app client")
        expires = claims.get("exp")
        if not isinstance(expires, (int, float)) or expires <= self._now():
            raise InvalidTokenError("expired")
        return claims

    def _decode(self, token: str) -> dict[str, Any]:
        for attempt in range(2):
            keys = self._key_set(refresh=attempt > 0)
            try:
                decoded = jwt.decode(token, keys, algorithms=["RS256"])
            except InvalidKeyIdError as exc:
                if attempt == 0:
                    continue  # a key rotated in since the last fetch: refetch (at most once a minute)
                raise InvalidTokenError("signed by a key the pool does not publish") from exc
            except JoseError as exc:
                raise InvalidTokenError(f"signature or format refused ({exc.error})") from exc
            except ValueError as exc:
                raise InvalidTokenError("not a JWT") from exc
            return dict(decoded.claims)
        raise InvalidTokenError("signed by a key the pool does not publish")

    def _key_set(self, *, refresh: bool) -> KeySet:
        with self._lock:
            stale = time.monotonic() - self._fetched_at >= self._refetch_after
            if self._keys is None or (refresh and stale):
                self._keys = KeySet.import_key_set(dict(self._fetch(self._pool)))  # type: ignore[arg-type]
                self._fetched_at = time.monotonic()
            return self._keys
