"""Where calls go, at synth: `callRoutes` read as the webhooks will read it (every listen route's URL
allowed by `listenAllowedUrls`, https only), the `CallRoutes` output, and a warning when no routes
are set (every number then goes to voicemail, which a first deploy must not do silently)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.components.config import ContextError, InfraConfig
from infra.components.routing import NO_ROUTES
from tests.infra.conftest import LISTEN_TWIML_URL, Synth

pytestmark = pytest.mark.infra

TEAM = "https://voice.team.example/twiml/incoming"
STUDIO = "https://webhooks.twilio.com/v1/Accounts/AC0123/Flows/FW0123?FlowEvent=return"


def _config(**context: Any) -> InfraConfig:
    import aws_cdk as cdk

    return InfraConfig.from_context(cdk.App(context=context).node)


def _warnings(synthesised: Synth) -> list[str]:
    from aws_cdk.assertions import Annotations, Match

    found = Annotations.from_stack(synthesised.stack).find_warning("*", Match.string_like_regexp(".*"))
    return [str(entry.entry.data) for entry in found]


def test_a_first_deploy_says_every_number_goes_to_voicemail(default_synth: Synth) -> None:
    output = default_synth.raw["Outputs"]["CallRoutes"]
    assert output["Value"] == NO_ROUTES
    assert "set context callRoutes" in output["Value"]
    assert any(
        "No callRoutes: every call to every number goes to voicemail" in w for w in _warnings(default_synth)
    )


def test_configured_routes_are_summarised_and_not_warned_about(synth: Synth) -> None:
    value = synth.raw["Outputs"]["CallRoutes"]["Value"]
    assert value == f"+15550111: listen in, then POST {LISTEN_TWIML_URL}; every other number: voicemail"
    assert not any("No callRoutes" in w for w in _warnings(synth))


def test_listen_routes_and_the_allow_list_pass_synth_as_the_webhooks_read_them() -> None:
    config = _config(
        callRoutes={"+15550111": {"listen": {"twimlUrl": TEAM}}, "*": {"listen": {"twimlUrl": STUDIO}}},
        listenAllowedUrls=f"https://voice.team.example/twiml/*, {STUDIO}",
    )
    assert config.listen_environment() == {
        "LISTEN_ALLOWED_URLS": f"https://voice.team.example/twiml/*,{STUDIO}"
    }
    assert _config().listen_environment() == {}


@pytest.mark.parametrize(
    ("context", "needle"),
    [
        ({"callRoutes": {"*": {"listen": {"twimlUrl": TEAM}}}}, "context listenAllowedUrls does not allow"),
        (
            {"callRoutes": {"*": {"listen": {"twimlUrl": TEAM}}}, "listenAllowedUrls": STUDIO},
            "context callRoutes route '*' hands calls to " + TEAM,
        ),
        (  # loopback http is for local runs: never a deployment's
            {
                "callRoutes": {"*": {"listen": {"twimlUrl": "http://127.0.0.1:8080/team"}}},
                "listenAllowedUrls": "https://voice.team.example/*",
            },
            "not https://",
        ),
        ({"listenAllowedUrls": "http://127.0.0.1:8080/team"}, "listenAllowedUrls"),
        ({"listenAllowedUrls": "https://voice.team.example*"}, "whole host"),
        (
            {
                "callRoutes": {"*": {"listen": {"twimlUrl": "https://hooks.example.com/twilio/voice"}}},
                "listenAllowedUrls": "https://hooks.example.com/*",
                "apiDomainName": "hooks.example.com",
                "apiCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x",
            },
            "back to this stack's own API",
        ),
        # every route is read as the webhooks will read it, not only listen routes
        ({"callRoutes": {"*": {"forwardTo": "555-0111"}}}, "context callRoutes is invalid: route '*'"),
    ],
)
def test_a_route_the_webhooks_would_refuse_stops_synth(context: dict[str, Any], needle: str) -> None:
    with pytest.raises(ContextError) as caught:
        _config(**context)
    assert needle in str(caught.value)


def test_the_app_refuses_to_synthesise_a_route_to_a_url_not_allowed() -> None:
    """Through the app's own entry (`build_app`), as `cdk synth` runs it: nothing is built."""
    import aws_cdk as cdk

    from infra.app import build_app

    app = cdk.App(context={"callRoutes": {"*": {"listen": {"twimlUrl": TEAM}}}, "region": "us-east-1"})
    with pytest.raises(ContextError, match="listenAllowedUrls"):
        build_app(app)
    assert app.node.children == []
