"""CALL_ROUTES parsing: every documented form, defaults, and bad configurations named clearly."""

from __future__ import annotations

import json

import pytest

from shared.errors import ConfigError
from shared.routing import (
    AgentConfig,
    AgentRoute,
    ForwardRoute,
    ListenRoute,
    VoicemailRoute,
    parse_call_routes,
)

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


TEAM_APP = "https://voice.team.example/twiml/incoming"


def test_a_listen_route_hands_calls_to_a_twiml_url() -> None:
    routes = parse_call_routes(
        {
            SALES: {"listen": {"twimlUrl": TEAM_APP}},
            SUPPORT: {"listen": {"twimlUrl": TEAM_APP + "?desk=2", "method": "get"}, "record": False},
        }
    )
    sales = routes.route_for(SALES)
    assert isinstance(sales, ListenRoute)
    assert (sales.kind, sales.listen.twiml_url, sales.listen.method, sales.record) == (
        "listen",
        TEAM_APP,
        "POST",  # Twilio's own default for <Redirect>
        True,
    )
    support = routes.route_for(SUPPORT)
    assert isinstance(support, ListenRoute)
    assert (support.listen.method, support.record) == ("GET", False)
    assert routes.listen_targets() == [(SALES, TEAM_APP), (SUPPORT, TEAM_APP + "?desk=2")]


@pytest.mark.parametrize(
    ("listen", "needle"),
    [
        ({}, "twimlUrl"),
        ({"twimlUrl": "http://voice.team.example/twiml"}, "not https://"),
        ({"twimlUrl": "https://user:pw@voice.team.example/twiml"}, "credentials"),
        ({"twimlUrl": "/twiml/incoming"}, "absolute URL"),
        ({"twimlUrl": TEAM_APP, "method": "PUT"}, "method"),
        ({"twimlUrl": TEAM_APP, "url": TEAM_APP}, "url"),
        ("https://voice.team.example/twiml", "listen"),
    ],
)
def test_a_bad_listen_route_is_named(listen: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as caught:
        parse_call_routes({SALES: {"listen": listen}})
    assert SALES in str(caught.value)
    assert "pw@" not in str(caught.value)


def test_a_route_with_listen_and_another_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match='exactly one of "forwardTo", "voicemail", "agent", "listen"'):
        parse_call_routes({SALES: {"listen": {"twimlUrl": TEAM_APP}, "voicemail": True}})


def test_the_summary_says_where_calls_go_and_what_the_rest_gets() -> None:
    assert parse_call_routes(None).summary() == "every number: voicemail (default)"
    routes = parse_call_routes(
        {
            SALES: {"listen": {"twimlUrl": TEAM_APP}},
            SUPPORT: {"forwardTo": "+14155550111", "record": False},
        }
    )
    assert routes.summary() == (
        f"{SALES}: listen in, then POST {TEAM_APP}; "
        f"{SUPPORT}: forward to +14155550111 (not recorded); every other number: voicemail (default)"
    )
    assert parse_call_routes({"*": {"agent": {}}}).summary() == "every number: voice agent"
    many = parse_call_routes({f"+1415555{n:04d}": {"voicemail": True} for n in range(100)})
    short = many.summary(limit=200)
    assert len(short) < 230
    assert short.endswith("more)")
