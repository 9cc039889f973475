"""Unit fixtures for the people's read API: settings in memory, fakes for every port, and requests
shaped as API Gateway's Cognito authoriser passes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from callscribe_local.apigw import LocalLambdaContext, gateway_claims, rest_proxy_event
from functions.console_api.app import RESOURCES, create_app
from functions.console_api.logic import Services
from functions.console_api.settings import ConsoleApiSettings
from shared.access import SUPERVISORS, VIEWERS
from tests.support.fake_calls.core import FakeCallReader, FakeCallTable, Item
from tests.support.fake_calls.listing import FakeCallList
from tests.support.fake_segments import FakeSegments

VIEWER = {
    "sub": "sub-viewer",
    "cognito:username": "sub-viewer",
    "email": "vi@example.com",
    "cognito:groups": [VIEWERS],
}
SUPERVISOR = {
    **VIEWER,
    "sub": "sub-super",
    "cognito:username": "sub-super",
    "cognito:groups": [VIEWERS, SUPERVISORS],
}


@dataclass
class FakeRecordingLinks:
    asked: list[tuple[str, int]] = field(default_factory=list)

    def link(self, key: str, seconds: int) -> str:
        self.asked.append((key, seconds))
        return f"https://recordings.test/{key}?expires={seconds}"


@dataclass
class Rig:
    table: FakeCallTable
    segments: FakeSegments
    links: FakeRecordingLinks
    services: Services

    def add_call(self, call_sid: str, **attributes: Any) -> Item:
        item = {"call_sid": call_sid, **attributes}
        self.table.items[call_sid] = item
        return item

    def get(
        self, path: str, claims: dict[str, Any] | None = None, query: str = ""
    ) -> tuple[int, dict[str, str], Any]:
        """One request through the handler as API Gateway would send it (claims as strings)."""
        event = rest_proxy_event(
            method="GET",
            path=path,
            query=query,
            stage="api",
            resources=RESOURCES,
            authorizer_claims=None if claims is None else gateway_claims(claims),
        )
        result = create_app(lambda: self.services)(event, LocalLambdaContext())  # type: ignore[arg-type]
        headers = {key: values[-1] for key, values in (result.get("multiValueHeaders") or {}).items()}
        headers.update(result.get("headers") or {})
        return int(result["statusCode"]), headers, json.loads(result["body"])


@pytest.fixture
def rig() -> Rig:
    table = FakeCallTable()
    segments = FakeSegments()
    links = FakeRecordingLinks()
    settings = ConsoleApiSettings.from_env(
        {"CALLS_TABLE": "calls", "TRANSCRIPTS_TABLE": "segments", "RECORDINGS_BUCKET": "recordings"}
    )
    services = Services(
        settings=settings,
        calls=FakeCallReader(table),
        segments=segments,
        call_list=FakeCallList(table),
        recordings=links,
    )
    return Rig(table, segments, links, services)


@pytest.fixture
def claims_of() -> Callable[..., dict[str, Any]]:
    def make(*groups: str, sub: str = "sub-x") -> dict[str, Any]:
        return {"sub": sub, "cognito:username": sub, "email": "x@example.com", "cognito:groups": list(groups)}

    return make
