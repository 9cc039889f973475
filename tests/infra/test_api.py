"""The webhooks REST API: contract routes, their authorisation, and the stage's safety settings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synth
from tests.infra.helpers import api_methods, api_resources, rest_api

pytestmark = pytest.mark.infra


WEBHOOKS_API = "Callscribe-webhooks"  # the people's read API has its tests in test_people_api.py


def _api(synth: Synth) -> str:
    return rest_api(synth, WEBHOOKS_API)


def _methods(synth: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    return api_methods(synth, _api(synth))


def _one(synth: Synth, kind: str) -> dict[str, Any]:
    (found,) = api_resources(synth, kind, _api(synth)).values()
    return found


def test_contract_routes_and_their_authorisation(synth: Synth) -> None:
    methods = _methods(synth)
    assert {key: m["AuthorizationType"] for key, m in methods.items()} == {
        ("POST", "/twilio/voice"): "NONE",
        ("POST", "/twilio/status"): "NONE",
        ("POST", "/twilio/recording"): "NONE",
        ("POST", "/calls"): "AWS_IAM",
        ("GET", "/calls/{callSid}"): "AWS_IAM",
    }
    for method in methods.values():
        assert method["Integration"]["Type"] == "AWS_PROXY"


def test_start_call_body_is_validated_at_the_gateway(synth: Synth) -> None:
    post_calls = _methods(synth)[("POST", "/calls")]
    assert "RequestValidatorId" in post_calls
    model_id = post_calls["RequestModels"]["application/json"]["Ref"]
    schema = synth.raw["Resources"][model_id]["Properties"]["Schema"]
    assert schema["required"] == ["to", "connectTo"]
    assert schema["additionalProperties"] is False
    validator = _one(synth, "AWS::ApiGateway::RequestValidator")
    assert validator["ValidateRequestBody"] is True


def test_get_call_declares_its_transcript_paging_parameters(synth: Synth) -> None:
    get_call = _methods(synth)[("GET", "/calls/{callSid}")]
    assert get_call["RequestParameters"] == {
        "method.request.path.callSid": True,
        "method.request.querystring.limit": False,  # optional; the function answers 400 on bad values
        "method.request.querystring.cursor": False,
    }


def test_form_bodies_stay_text(synth: Synth) -> None:
    """No binary media types, so Twilio's form posts reach the function as text."""
    assert "BinaryMediaTypes" not in synth.raw["Resources"][_api(synth)]["Properties"]


def test_stage_has_access_logs_throttling_and_tracing(synth: Synth) -> None:
    stage = _one(synth, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == "prod"
    assert stage["TracingEnabled"] is True
    assert "DestinationArn" in stage["AccessLogSetting"]
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 100
    assert settings["ThrottlingBurstLimit"] == 200
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False


def test_custom_domain_from_context(synth: Synth) -> None:
    domain = synth.one("AWS::ApiGateway::DomainName")
    assert domain["DomainName"] == "hooks.example.com"
    assert domain["SecurityPolicy"] == "TLS_1_2"
    assert len(synth.resources("AWS::ApiGateway::BasePathMapping")) == 1


def test_outputs_are_the_three_twilio_urls_and_the_stream_url(synth: Synth) -> None:
    outputs = synth.raw["Outputs"]
    for route in ("Voice", "Status", "Recording"):
        assert (
            outputs[f"Twilio{route}WebhookUrl"]["Value"]
            == f"https://hooks.example.com/twilio/{route.lower()}"
        )
    assert outputs["StreamUrl"]["Value"] == "wss://stream.example.com/media"


def test_default_base_url_is_the_execute_api_stage(default_synth: Synth) -> None:
    value = default_synth.raw["Outputs"]["TwilioVoiceWebhookUrl"]["Value"]
    joined = "".join(part if isinstance(part, str) else "<token>" for part in value["Fn::Join"][1])
    assert joined == "https://<token>.execute-api.us-east-1.<token>/prod/twilio/voice"


def test_gateway_checks_numbers_with_the_lambdas_pattern(synth: Synth) -> None:
    """The gateway's model and the Lambda once disagreed on E.164 (7+ digits against 2+): both now use
    shared/patterns.py, whose accepted shapes tests/unit/test_patterns.py pins."""
    from shared.patterns import E164_MAX_LENGTH, E164_PATTERN

    post_calls = _methods(synth)[("POST", "/calls")]
    model_id = post_calls["RequestModels"]["application/json"]["Ref"]
    properties = synth.raw["Resources"][model_id]["Properties"]["Schema"]["properties"]
    assert set(properties) == {"to", "connectTo", "from"}
    for field in properties.values():
        assert (field["type"], field["pattern"], field["maxLength"]) == (
            "string",
            E164_PATTERN,
            E164_MAX_LENGTH,
        )
