"""Signing in and staying signed in, on the local stack (moto's Cognito, the read API's authoriser, the
feed stand-in): a wrong password is refused with a clear message, a session survives a reload and ends
with sign-out, a deep link comes back after sign-in, a first sign-in sets a new password, tokens are
refreshed before they expire (and the feed reconnects with the new one) and after a 401, and a person
without the viewers group is told so by the API's answer. The API itself refuses a request without a
token (401) or without the group (403), and the state file names the console and its sign-in."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from callscribe_local.cli import StackState
from callscribe_local.cognito import sign_in as cognito_sign_in
from shared.access import VIEWERS
from tests.browser.conftest import sign_in
from tests.support.console_people import Person
from tests.support.console_stack import StackConsole

pytestmark = pytest.mark.browser

SESSION_KEY = "callscribe.session"


def stored_session(page: Page) -> dict[str, Any] | None:
    raw = page.evaluate(f"localStorage.getItem('{SESSION_KEY}')")
    return json.loads(raw) if raw else None


class Handshakes:
    """The feed's WebSocket handshakes as Chromium sends them (DevTools protocol): the token each
    carried in its `header-` subprotocol."""

    def __init__(self, page: Page) -> None:
        self.tokens: list[str] = []
        session = page.context.new_cdp_session(page)
        session.on("Network.webSocketWillSendHandshakeRequest", self._handshake)
        session.send("Network.enable")

    def _handshake(self, params: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in params["request"]["headers"].items()}
        for item in headers.get("sec-websocket-protocol", "").split(","):
            item = item.strip()
            if item.startswith("header-"):
                encoded = item[len("header-") :]
                doc = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
                self.tokens.append(doc["Authorization"])


@pytest.fixture
def handshakes(page: Page) -> Handshakes:
    return Handshakes(page)


def test_a_wrong_password_is_refused_with_a_clear_message(page: Page, console: StackConsole) -> None:
    page.goto(console.url)
    page.locator("input[name=username]").fill(console.viewer.username)
    page.locator("input[name=password]").fill("not-the-password")
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    expect(page.locator("input[name=password]")).to_be_focused()
    expect(page.locator("input[name=password]")).to_have_value("")
    assert stored_session(page) is None
    expect(page.locator("[data-testid=call-row]")).to_have_count(0)


def test_a_session_survives_a_reload_and_ends_with_sign_out(page: Page, console: StackConsole) -> None:
    sign_in(page, console.url, console.viewer)
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
    expect(page.locator(".user-name")).to_have_text(console.viewer.username)
    expect(page.get_by_text("No calls yet.")).to_be_visible()  # this module places no calls
    expect(page.get_by_text("No calls in progress.")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    assert stored_session(page) is None
    page.reload()
    expect(page.locator("input[name=username]")).to_be_visible()


def test_a_deep_link_opens_after_sign_in(page: Page, console: StackConsole) -> None:
    address = "/#/calls/CA00000000000000000000000000000000"
    sign_in(page, console.url, console.viewer, at=address)
    expect(page.get_by_role("heading", name="Call not found")).to_be_visible()
    assert page.url.endswith(address.lstrip("/"))


def test_sign_out_in_one_tab_signs_out_the_others(page: Page, console: StackConsole) -> None:
    sign_in(page, console.url, console.viewer)
    other = page.context.new_page()
    other.goto(console.url)
    expect(other.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(other.locator("input[name=username]")).to_be_visible()
    expect(other.get_by_role("status")).to_have_text("You were signed out in another tab.")


def test_a_first_sign_in_sets_a_new_password(page: Page, console: StackConsole) -> None:
    newcomer = console.add_person([VIEWERS], temporary=True)
    page.goto(console.url)
    page.locator("input[name=username]").fill(newcomer.username)
    page.locator("input[name=password]").fill(newcomer.password)
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("Chosen-pass-22")
    page.get_by_label("Repeat the new password").fill("Chosen-pass-2")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    page.get_by_label("Repeat the new password").fill("Chosen-pass-22")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    sign_in(
        page, console.url, Person(newcomer.username, "Chosen-pass-22", newcomer.groups)
    )  # the new one works
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()


def test_tokens_are_refreshed_before_they_expire(
    page: Page, console: StackConsole, handshakes: Handshakes
) -> None:
    page.clock.install()
    sign_in(page, console.url, console.viewer)
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    before = stored_session(page)
    assert before is not None
    assert handshakes.tokens == [before["idToken"]]
    with (
        page.expect_request(
            lambda r: r.url.endswith("/cognito/") and "REFRESH_TOKEN_AUTH" in (r.post_data or "")
        ),
        page.expect_request(
            lambda r: "/api/calls?live=true" in r.url
        ),  # what the page may have missed, read again
    ):
        page.clock.fast_forward(
            "58:30"
        )  # Cognito's ID tokens last an hour; the console refreshes 2 min early
    page.wait_for_function("old => JSON.parse(localStorage.getItem('callscribe.session')).idToken !== old",
                           arg=before["idToken"])  # fmt: skip
    fresh = stored_session(page)
    assert fresh is not None
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    assert handshakes.tokens[-1] == fresh["idToken"]  # the feed reconnected with the new token


def test_a_rejected_token_is_refreshed_and_the_request_retried(page: Page, console: StackConsole) -> None:
    sign_in(page, console.url, console.viewer)
    expect(page.get_by_role("heading", name="All calls")).to_be_visible()
    session = stored_session(page)
    assert session is not None
    header, payload, _signature = str(session["idToken"]).split(".")
    session["idToken"] = f"{header}.{payload}.forged"  # the authoriser answers 401 to it
    page.evaluate("s => localStorage.setItem('callscribe.session', s)", json.dumps(session))
    with page.expect_response(lambda r: "/api/calls" in r.url and r.status == 401):
        page.reload()
    page.wait_for_function(
        "() => !JSON.parse(localStorage.getItem('callscribe.session')).idToken.endsWith('.forged')"
    )
    expect(page.get_by_text("No calls yet.")).to_be_visible()
    expect(page.locator(".state.error")).to_have_count(0)


def test_a_person_without_the_viewers_group_is_told_by_the_api(page: Page, console: StackConsole) -> None:
    with page.expect_response(lambda r: "/api/calls" in r.url and r.status == 403):
        sign_in(page, console.url, console.outsider)
    expect(page.locator(".role")).to_have_text("No access")
    expect(page.get_by_role("alert").first).to_contain_text("add you to the callscribe-viewers group")


def test_the_api_refuses_a_request_without_a_token_or_without_the_group(console: StackConsole) -> None:
    """What decides is the server: the authoriser (401 without a valid ID token), then the read API
    (403 without `callscribe-viewers`; the recording also needs `callscribe-supervisors`)."""
    api = f"{console.url}/api"
    pool = console.people.pool

    def token(person: Person) -> dict[str, str]:
        return {"Authorization": cognito_sign_in(pool, person.username, person.password).id_token}

    unknown = "CA" + "0" * 32
    assert httpx.get(f"{api}/calls").status_code == 401
    assert httpx.get(f"{api}/calls", headers={"Authorization": "not-a-token"}).status_code == 401
    refused = httpx.get(f"{api}/calls", headers=token(console.outsider))
    assert (refused.status_code, refused.headers["cache-control"]) == (403, "no-store")
    assert httpx.get(f"{api}/calls/{unknown}", headers=token(console.outsider)).status_code == 403
    viewer = token(console.viewer)
    assert httpx.get(f"{api}/calls", headers=viewer).status_code == 200
    assert httpx.get(f"{api}/calls/{unknown}/recording", headers=viewer).status_code == 403
    assert httpx.get(f"{api}/calls/{unknown}/recording", headers=token(console.supervisor)).status_code == 404


def test_the_state_file_names_the_console_and_its_sign_in(console: StackConsole) -> None:
    """`callscribe local up` writes these keys (the contract's) for the other commands and for people."""
    state = StackState.of(console.stack)
    assert state.console == console.url
    assert state.console_api == f"{console.url}/api"
    assert (state.console_user, state.console_password) == (
        console.supervisor.username,
        console.supervisor.password,
    )
    assert state.feed == console.people.feed.realtime_url
    config = httpx.get(f"{state.console}/config.json").json()
    assert config["apiUrl"] == "/api"
    assert config["feed"]["realtimeUrl"] == state.feed
