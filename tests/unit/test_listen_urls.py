"""The listen-in allow-list (shared/listen.py): what an entry may be, what it allows, what is refused."""

from __future__ import annotations

import re

import pytest

from shared import listen

STUDIO = "https://webhooks.twilio.com/v1/Accounts/AC0123/Flows/FW0123?FlowEvent=return"
APP = "https://voice.team.example/twiml/incoming"


@pytest.mark.parametrize(
    ("raw", "entries"),
    [
        (None, ()),
        ("", ()),
        (" , ", ()),
        (f"{APP}, https://handler.twilio.com/twiml/*", (APP, "https://handler.twilio.com/twiml/*")),
        ([APP, STUDIO], (APP, STUDIO)),  # cdk.json holds a list
        ("http://127.0.0.1:8080/team/voice", ("http://127.0.0.1:8080/team/voice",)),
    ],
)
def test_entries_are_exact_urls_or_whole_host_prefixes(raw: object, entries: tuple[str, ...]) -> None:
    assert listen.parse_allowed_urls(raw, loopback_http=True) == entries


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("http://voice.team.example/twiml", "not https://"),
        ("ftp://voice.team.example/twiml", "not https://"),
        ("voice.team.example/twiml", "not an absolute URL"),
        ("https://voice.team.example*", "must name the whole host"),
        ("https://voice.team.example/a*/b", "'*' may only end a prefix"),
        ("https://user:secret@voice.team.example/twiml", "carries credentials"),
        ("https://voice.team.example/twiml/../admin", "'..'"),
        ("https://voice.team.example/twiml/%2e%2e/admin", "'..'"),
        ("https://voice.team.example/tw iml", "spaces or control characters"),
        ("https://voice.team.example:port/twiml", "not a URL"),
        ([APP, 7], "is not text"),
        (12, "comma-separated"),
    ],
)
def test_anything_else_is_refused_with_the_reason(raw: object, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        listen.parse_allowed_urls(raw, loopback_http=True)


def test_credentials_are_never_repeated_in_the_message() -> None:
    with pytest.raises(ValueError, match="carries credentials") as caught:
        listen.parse_allowed_urls("https://user:secret@voice.team.example/twiml", loopback_http=True)
    assert "secret" not in str(caught.value)


def test_loopback_http_only_where_asked_and_only_for_loopback() -> None:
    local = "http://localhost:9000/team/voice"
    assert listen.url_problem(local, loopback_http=True) is None
    assert "not https://" in str(listen.url_problem(local, loopback_http=False))  # a deployment: never
    assert "not https://" in str(listen.url_problem("http://10.0.0.5/team", loopback_http=True))


def test_exact_entries_match_exactly_and_prefixes_by_their_start() -> None:
    allowed = (APP, "https://handler.twilio.com/twiml/*")
    assert listen.allows(allowed, APP)
    assert not listen.allows(allowed, APP + "?x=1")
    assert not listen.allows(allowed, APP.replace("https://", "https://evil."))
    assert listen.allows(allowed, "https://handler.twilio.com/twiml/EH0123")
    assert not listen.allows(allowed, "https://handler.twilio.com/twimlx")
    assert not listen.allows((), APP)  # no allow-list allows nothing


def test_a_prefix_cannot_stretch_to_another_host() -> None:
    """`https://team.example*` would match `https://team.example.evil.test/`: such an entry is refused,
    and a whole-host prefix does not match a longer host."""
    with pytest.raises(ValueError, match="whole host"):
        listen.parse_allowed_urls("https://team.example*", loopback_http=True)
    assert not listen.allows(("https://team.example/*",), "https://team.example.evil.test/twiml")


def test_check_targets_names_the_route_the_url_and_the_setting() -> None:
    listen.check_targets(
        [("+14155550100", APP)], (APP,), loopback_http=False, routes_name="CALL_ROUTES", allowed_name="X"
    )
    with pytest.raises(ValueError, match="does not allow") as caught:
        listen.check_targets(
            [("+14155550100", APP), ("*", STUDIO)],
            (APP,),
            loopback_http=False,
            routes_name="CALL_ROUTES",
            allowed_name="LISTEN_ALLOWED_URLS",
        )
    message = str(caught.value)
    assert "CALL_ROUTES route '*' hands calls to " + STUDIO in message
    assert "LISTEN_ALLOWED_URLS does not allow" in message
    assert "'+14155550100'" not in message  # the allowed one is not reported
    with pytest.raises(ValueError, match="allowed: none"):
        listen.check_targets(
            [("*", APP)],
            (),
            loopback_http=False,
            routes_name="CALL_ROUTES",
            allowed_name="LISTEN_ALLOWED_URLS",
        )


def test_is_under_finds_urls_below_our_own_base() -> None:
    base = "https://abc.execute-api.us-east-1.amazonaws.com/prod"
    assert listen.is_under(base + "/twilio/voice", base)
    assert listen.is_under("HTTPS://ABC.execute-api.us-east-1.amazonaws.com/prod/x", base)
    assert not listen.is_under(base + "x/twilio/voice", base)  # another stage
    assert not listen.is_under("https://abc.execute-api.us-east-1.amazonaws.com/dev/twilio/voice", base)
    assert not listen.is_under(APP, base)
    assert listen.is_under("https://hooks.example.com/twilio/voice", "https://hooks.example.com")
