"""The summaries Lambda's handler code in a test "container" (`LambdaContainer`): its runtime built
from an environment mapping on the first invocation, as the deployed function builds it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.summaries import app
from functions.summaries.settings import SummarySettings
from tests.support.lambda_container import LambdaContainer
from tests.unit.summaries.builders import FakeLambdaContext


def _runtime(env: Mapping[str, str]) -> app.Runtime:
    return app.build_runtime(SummarySettings.from_env(env))


class Summaries(LambdaContainer[app.Runtime]):
    """`Summaries(env)`; `configure(NAME=value)` starts a new container with other variables."""

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(_runtime, app.create_handler, env)

    def invoke(self, event: dict[str, Any], remaining_ms: int = 300_000) -> dict[str, Any]:
        return self.handler(event, FakeLambdaContext(remaining_ms=remaining_ms))

    def settings(self) -> SummarySettings:
        """The settings the current container reads."""
        return SummarySettings.from_env(self.env)
