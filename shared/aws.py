"""One botocore session and one client per service per process.

Clients come straight from botocore, not boto3: importing boto3 drags in s3transfer and with it
multiprocessing (~60 ms of every Lambda cold start) for nothing we use. Sessions are not thread-safe
to build, so creation is serialised; the clients themselves are thread-safe and shared by the
streamer's writer threads. `AWS_ENDPOINT_URL` is honoured by botocore itself, which is how every
client here reaches moto locally with no code change.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

_lock = threading.RLock()

# Standard retry mode retries throttling and 5xx with backoff; adaptive adds client-side rate limiting,
# which is what a bursty writer (the streamer at the end of many calls) wants.
_CLIENT_CONFIG = Config(retries={"max_attempts": 8, "mode": "adaptive"}, max_pool_connections=32)
# S3 as the presigned recording links need it (the console's player fetches them from the browser):
# SigV4 (botocore presigns with the legacy SigV2 otherwise, which S3 refuses for SSE-KMS objects and
# buckets made since 2020) on the bucket's regional virtual host (`<bucket>.s3.<region>.amazonaws.com`,
# the host the console's CSP `media-src` names; botocore otherwise presigns on the global host). A
# loopback endpoint (moto, `AWS_ENDPOINT_URL`) still gets path-style URLs.
_S3_CONFIG = _CLIENT_CONFIG.merge(
    Config(
        signature_version="s3v4",
        s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
    )
)


@lru_cache(maxsize=1)
def session() -> botocore.session.Session:
    with _lock:
        return botocore.session.get_session()


def _client(service: str, config: Config = _CLIENT_CONFIG) -> Any:
    with _lock:
        return session().create_client(service, config=config)


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


@lru_cache(maxsize=1)
def events() -> EventBridgeClient:
    client: EventBridgeClient = _client("events")
    return client


@lru_cache(maxsize=1)
def s3() -> S3Client:
    client: S3Client = _client("s3", _S3_CONFIG)
    return client


@lru_cache(maxsize=1)
def secretsmanager() -> SecretsManagerClient:
    client: SecretsManagerClient = _client("secretsmanager")
    return client


@lru_cache(maxsize=1)
def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


def reset_clients() -> None:
    """Forget cached clients (tests that start a new moto server, never production code)."""
    for factory in (session, dynamodb, events, s3, secretsmanager, sqs):
        factory.cache_clear()
