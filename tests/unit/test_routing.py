"""CALL_ROUTES parsing: every documented form, defaults, and bad configurations named clearly."""

from __future__ import annotations

import json

import pytest

from shared.errors import ConfigError
from shared.routing import AgentConfig, AgentRoute, ForwardRoute, VoicemailRoute, parse_call_routes

SALES = "+14155550199"
SUPPORT = "+14155550188"


def test_unset_or_empty_means_voicemail_everywhere() -> None:
    for raw in (None, "", "   ", "{}"):
        assert parse_call_routes(raw).route_for(SALES) == VoicemailRoute()


def test_per_number_routes_and_the_default() -> None:
    routes = parse_call_routes(
        json.dumps(
            {
                SALES: {"forwardTo": "+14155550111"},
                SUPPORT: {"agent": {"greeting": "Support, hi!", "transferTo": "+14155550122"}},
                "*": {"voicemail": True},
            }
        )
    )
    assert routes.route_for(SALES) == ForwardRoute(forward_to="+14155550111")
    support = routes.route_for(SUPPORT)
    assert isinstance(support, AgentRoute)
    assert support.agent.greeting == "Support, hi!"
    assert support.agent.transfer_to == "+14155550122"
    assert support.agent.voice == AgentConfig().voice  # unspecified fields keep working defaults
    assert routes.route_for("+14155550000") == VoicemailRoute()
    assert routes.route_for(None) == VoicemailRoute()


def test_default_route_applies_to_unlisted_numbers() -> None:
    routes = parse_call_routes({"*": {"forwardTo": "+442071838750"}})
    assert routes.route_for(SALES) == ForwardRoute(forward_to="+442071838750")


@pytest.mark.parametrize("agent", [{}, None, True])
def test_agent_with_no_settings_uses_defaults(agent: object) -> None:
    route = parse_call_routes({SALES: {"agent": agent}}).route_for(SALES)
    assert isinstance(route, AgentRoute)
    assert route.agent == AgentConfig()


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "not valid JSON: nested deeper than the parser allows"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON: nested deeper than the parser allows"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"4155550199": {"voicemail": True}}), "'4155550199'"),
        (json.dumps({SALES: {"forwardTo": "555-0111"}}), "E.164"),
        (json.dumps({SALES: {"forwardTo": "+14155550111", "voicemail": True}}), "exactly one"),
        (json.dumps({SALES: {"fowardTo": "+14155550111"}}), "exactly one"),
        (json.dumps({SALES: "+14155550111"}), "must be an object"),
        (json.dumps({SALES: {"agent": {"transferTo": "bob"}}}), "E.164"),
        (json.dumps({SALES: {"agent": {"temperature": 2}}}), "temperature"),
    ],
)
def test_bad_configuration_fails_with_a_message_naming_it(raw: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_call_routes(raw)
    assert "CALL_ROUTES" in str(caught.value)
    assert needle in str(caught.value)


def test_every_route_may_name_its_language_model_and_recording() -> None:
    routes = parse_call_routes(
        {
            SALES: {"forwardTo": "+14155550111", "language": "es", "model": "nova-2-phonecall"},
            SUPPORT: {"agent": {"language": "de"}, "record": False},
            "*": {"voicemail": True, "language": "fr"},
            "outbound": {"language": "pt-BR", "record": False},
        }
    )
    sales = routes.route_for(SALES)
    assert (sales.transcription_language, sales.model, sales.record) == ("es", "nova-2-phonecall", True)
    support = routes.route_for(SUPPORT)
    assert (support.transcription_language, support.record) == ("de", False)  # the agent's language
    assert routes.route_for("+14155550000").transcription_language == "fr"
    assert (routes.outbound.language, routes.outbound.record) == ("pt-BR", False)
    assert "outbound" not in routes.routes  # not a number: never matched as a called number


def test_without_outbound_defaults_calls_are_recorded_in_the_deployments_language() -> None:
    outbound = parse_call_routes({"*": {"voicemail": True}}).outbound
    assert (outbound.language, outbound.model, outbound.record) == (None, None, True)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({SALES: {"voicemail": True, "language": "en us"}}, "language"),
        ({SALES: {"voicemail": True, "model": "nova-3&x=1"}}, "model"),
        ({"outbound": {"forwardTo": "+14155550111"}}, "outbound"),
        ({"outbound": True}, "outbound"),
        ({SALES: {"voicemail": True, "record": "sometimes"}}, "record"),
    ],
)
def test_bad_route_options_are_named(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_call_routes(raw)
