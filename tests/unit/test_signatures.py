"""Twilio signature checks behind API Gateway: which public URL Twilio signed, rebuilt from the event.

Every case signs with the real `RequestValidator` over the URL Twilio would have called, then
checks `verify_api_gateway_event` accepts it from the event the Lambda sees, and refuses tampering.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest

from callscribe_local.apigw import rest_proxy_event
from shared.errors import MalformedRequestError
from shared.signatures import FormParams, candidate_urls, verify_api_gateway_event
from tests.conftest import TEST_AUTH_TOKEN
from tests.support.apigw_events import API_HOST, sign, twilio_event
from tests.support.twilio_forms import real_status_callback, voice_params

SID = "CA" + "a" * 32


def verifies(event: dict[str, object], base_url: str | None = None) -> bool:
    form = FormParams.parse(event["body"], is_base64=bool(event["isBase64Encoded"]))  # type: ignore[arg-type]
    return verify_api_gateway_event(event, form, TEST_AUTH_TOKEN, base_url)


@pytest.mark.parametrize("base64_body", [True, False])
def test_execute_api_url_with_stage(base64_body: bool) -> None:
    event = twilio_event("/twilio/voice", voice_params(SID), base64_body=base64_body)
    assert event["path"] == "/twilio/voice"
    assert event["requestContext"]["path"] == "/prod/twilio/voice"
    assert event["isBase64Encoded"] is base64_body
    assert verifies(event)


def test_stage_is_required_in_the_signed_url() -> None:
    # Signed without the stage: on an execute-api host the public URL always has the stage, so
    # Twilio cannot have signed this URL for us; there is no stage-less fallback to pass through.
    event = twilio_event("/twilio/voice", voice_params(SID), signed_url=f"https://{API_HOST}/twilio/voice")
    assert event["requestContext"]["path"] == "/prod/twilio/voice"
    assert candidate_urls(event, None) == [f"https://{API_HOST}/prod/twilio/voice"]
    assert not verifies(event)
    other_route = twilio_event(
        "/twilio/status", voice_params(SID), signed_url=f"https://{API_HOST}/prod/twilio/voice"
    )
    assert not verifies(other_route)


def test_stage_less_url_only_for_a_custom_domain_without_webhook_base_url() -> None:
    # A custom domain's public URL has no stage, and without WEBHOOK_BASE_URL nothing else names it.
    event = twilio_event(
        "/twilio/voice",
        voice_params(SID),
        host="voice.example.com",
        signed_url="https://voice.example.com/twilio/voice",
    )
    assert "https://voice.example.com/twilio/voice" in candidate_urls(event, None)
    assert verifies(event)


WEBHOOK_BASE = f"https://{API_HOST}/prod"


@pytest.mark.parametrize("header", ["X-Forwarded-Host", "Host"])
def test_with_webhook_base_url_only_that_url_verifies(header: str) -> None:
    """A signature Twilio made for another host (another app of the account, an old URL) is no
    signature for us: with WEBHOOK_BASE_URL set, the request's own headers choose nothing."""
    for scheme in ("http", "https"):
        forged_url = f"{scheme}://evil.example/prod/twilio/voice"
        event = twilio_event(
            "/twilio/voice",
            voice_params(SID),
            signed_url=forged_url,
            extra_headers={header: "evil.example", "X-Forwarded-Proto": scheme},
        )
        assert candidate_urls(event, WEBHOOK_BASE) == [f"{WEBHOOK_BASE}/twilio/voice"]
        assert not verifies(event, base_url=WEBHOOK_BASE)
    genuine = twilio_event(
        "/twilio/voice", voice_params(SID), extra_headers={"X-Forwarded-Host": "evil.example"}
    )
    assert verifies(genuine, base_url=WEBHOOK_BASE)


def test_x_forwarded_host_is_never_trusted() -> None:
    """API Gateway routes by Host (a foreign Host never reaches this API); X-Forwarded-Host is
    whatever the client wrote, so it must not pick the URL the signature is checked against."""
    forged = twilio_event(
        "/twilio/voice",
        voice_params(SID),
        signed_url="https://evil.example/prod/twilio/voice",
        extra_headers={"X-Forwarded-Host": "evil.example"},
    )
    assert all("evil.example" not in url for url in candidate_urls(forged, None))
    assert not verifies(forged)
    genuine = twilio_event(
        "/twilio/voice", voice_params(SID), extra_headers={"X-Forwarded-Host": "evil.example"}
    )
    assert verifies(genuine)


def test_custom_domain_uses_webhook_base_url() -> None:
    public = "https://voice.example.com"
    event = twilio_event(
        "/twilio/status",
        real_status_callback(),
        host="voice.example.com",
        signed_url=f"{public}/twilio/status",
    )
    event["requestContext"]["path"] = "/twilio/status"  # base-path mapping: no stage in the public path
    assert verifies(event, base_url=public)
    assert verifies(event, base_url=public + "/")


def test_custom_domain_with_base_path_mapping() -> None:
    public = "https://voice.example.com/hooks"
    event = twilio_event(
        "/twilio/voice", voice_params(SID), host="voice.example.com", signed_url=f"{public}/twilio/voice"
    )
    assert not verifies(event)  # cannot be guessed from the event...
    assert verifies(event, base_url=public)  # ...hence WEBHOOK_BASE_URL


def test_non_default_port_is_part_of_the_url() -> None:
    event = twilio_event(
        "/twilio/voice",
        voice_params(SID),
        signed_url="http://127.0.0.1:8443/local/twilio/voice",
        stage="local",
        extra_headers={"Host": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "8443"},
    )
    assert "http://127.0.0.1:8443/local/twilio/voice" in candidate_urls(event, None)
    assert verifies(event)


def test_host_header_that_already_has_the_port() -> None:
    event = twilio_event(
        "/twilio/voice",
        voice_params(SID),
        signed_url="http://127.0.0.1:9000/local/twilio/voice",
        stage="local",
        extra_headers={"Host": "127.0.0.1:9000", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "9000"},
    )
    assert verifies(event)


def test_https_default_port_is_dropped() -> None:
    event = twilio_event("/twilio/voice", voice_params(SID))
    assert all(":443" not in url for url in candidate_urls(event, None))
    assert verifies(event)


def test_query_string_is_signed() -> None:
    event = twilio_event("/twilio/voice", voice_params(SID), query="tenant=acme&lang=en-US")
    assert event["queryStringParameters"] == {"tenant": "acme", "lang": "en-US"}
    assert verifies(event)
    tampered = dict(event, queryStringParameters={"tenant": "other", "lang": "en-US"})
    tampered["multiValueQueryStringParameters"] = {"tenant": ["other"], "lang": ["en-US"]}
    assert not verifies(tampered)


def test_repeated_parameters_are_all_signed() -> None:
    pairs = [
        *voice_params(SID).items(),
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "answered"),
    ]
    event = twilio_event("/twilio/voice", pairs)
    assert verifies(event)
    only_first = [*voice_params(SID).items(), ("StatusCallbackEvent", "initiated")]
    forged = twilio_event(
        "/twilio/voice", pairs, signature=sign(f"https://{API_HOST}/prod/twilio/voice", only_first)
    )
    assert not verifies(forged)


def test_blank_values_are_kept_in_the_signature() -> None:
    pairs = real_status_callback()
    assert ("ToZip", "") in pairs
    event = twilio_event("/twilio/status", pairs)
    assert verifies(event)
    without_blanks = [(k, v) for k, v in pairs if v]
    assert not verifies(
        twilio_event(
            "/twilio/status", pairs, signature=sign(f"https://{API_HOST}/prod/twilio/status", without_blanks)
        )
    )


def test_utf8_values_survive_base64() -> None:
    pairs = real_status_callback()
    event = twilio_event("/twilio/status", pairs, base64_body=True)
    decoded = base64.b64decode(event["body"]).decode()
    assert "S%C3%A3o+Paulo" in decoded or "S%C3%A3o%20Paulo" in decoded
    form = FormParams.parse(event["body"], is_base64=True)
    assert form["CalledCity"] == "São Paulo"
    assert verifies(event)


def test_wrong_token_missing_and_tampered_signatures_fail() -> None:
    params = voice_params(SID)
    assert not verifies(twilio_event("/twilio/voice", params, auth_token="another-token"))
    assert not verifies(twilio_event("/twilio/voice", params, signature=""))
    event = twilio_event("/twilio/voice", params)
    tampered = dict(params, To="+19005550000")
    event["body"] = base64.b64encode(urlencode(tampered).encode()).decode()
    assert not verifies(event)


def test_header_name_case_does_not_matter() -> None:
    event = twilio_event("/twilio/voice", voice_params(SID))
    headers = event["headers"]
    event["headers"] = {k.lower(): v for k, v in headers.items()}
    assert verifies(event)


def test_undecodable_bodies_are_malformed() -> None:
    with pytest.raises(MalformedRequestError):
        FormParams.parse("not base64 %%%", is_base64=True)
    with pytest.raises(MalformedRequestError):
        FormParams.parse(base64.b64encode(b"\xff\xfe=\xff").decode(), is_base64=True)


def test_local_gateway_event_shape_verifies() -> None:
    params = voice_params(SID)
    url = "http://127.0.0.1:5055/local/twilio/voice"
    event = rest_proxy_event(
        method="POST",
        path="/twilio/voice",
        stage="local",
        headers=[
            ("Host", "127.0.0.1:5055"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", sign(url, params)),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Port", "5055"),
        ],
        body=urlencode(params),
    )
    assert event["isBase64Encoded"] is True
    assert verifies(event)
    assert verifies(event, base_url="http://127.0.0.1:5055/local")
