"""Context `prices`: checked at synth against the code's price table, and handed as `CALL_PRICES` to
every Lambda that writes a call's cost (webhooks, summaries, recordings, the sweeper's repair), and
to nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.config import ContextError, InfraConfig
from tests.infra.conftest import Synth
from tests.infra.helpers import function

pytestmark = pytest.mark.infra

COST_WRITERS = (
    "functions.webhooks.app.handler",
    "functions.summaries.app.handler",
    "functions.recordings.app.handler",
    "functions.sweeper.app.handler",
)


def _config(**context: Any) -> InfraConfig:
    import aws_cdk as cdk

    return InfraConfig.from_context(cdk.App(context=context).node)


def test_every_cost_writer_gets_the_prices_from_context(synth: Synth, default_synth: Synth) -> None:
    expected = json.dumps({"as_of": "2026-12-01", "twilio_inbound_per_minute": 0.0095}, separators=(",", ":"))
    for handler in COST_WRITERS:
        assert function(synth, handler)[1]["Environment"]["Variables"]["CALL_PRICES"] == expected
        # unset: the code's dated defaults (shared/costs.py), no variable at all
        assert "CALL_PRICES" not in function(default_synth, handler)[1]["Environment"]["Variables"]
    (task,) = synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    assert "CALL_PRICES" not in {e["Name"] for e in container["Environment"]}  # the streamer writes none


def test_prices_from_the_command_line_are_json_text() -> None:
    config = _config(prices='{"deepgram_live_per_minute": 0.0059}')
    # overrides without their own date say so, rather than claim the defaults' date
    assert json.loads(config.prices or "") == {
        "as_of": "2026-11-01+custom",
        "deepgram_live_per_minute": 0.0059,
    }
    assert config.prices_environment() == {"CALL_PRICES": config.prices}
    assert _config().prices_environment() == {}


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"twilio_inbound": 0.01}, "context prices: unknown price 'twilio_inbound'; known: as_of, "),
        ({"twilio_recording_per_minute": -1}, "context prices: twilio_recording_per_minute: Input should be"),
        ("{not json", "context prices: must be a JSON object of price names to numbers, not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON \\(nested deeper than the parser allows\\)"),
        ("[0.01]", "context prices: must be a JSON object of price names to numbers"),
    ],
)
def test_bad_prices_are_refused_at_synth(prices: Any, message: str) -> None:
    with pytest.raises(ContextError, match=message):
        _config(prices=prices)
