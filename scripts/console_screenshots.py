"""Take the screenshots in docs/console.md from real calls on the local stack, in Chromium at 1440 x 900.

    PYTHONPATH=$PWD .venv/bin/python scripts/console_screenshots.py [--out docs/images/console]

Runs offline on tests/support/console_stack.py; the calls it places and when it photographs them:
docs/console.md, "Screenshots".
"""

from __future__ import annotations

import argparse
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from callscribe_local.aws_local import fake_credentials_env
from callscribe_local.phone import CallerId, bundled_conversation
from callscribe_local.stack import LISTEN_NUMBER
from shared.costs import Prices, record_cost
from shared.dal.calls.webhooks import DynamoWebhookCalls
from tests.browser.conftest import LAUNCH_ARGS, chromium_path, sign_in
from tests.support.console_stack import StackConsole, stack_console

REPO = Path(__file__).resolve().parent.parent
OURS = "+14155550100"
SETTLE_MS = 180_000  # the recording, its reconciliation and the summary, on a busy machine
UNANSWERED = [  # (minutes ago, status, route, caller)
    (48, "no-answer", "forward", "+16175550123"),
    (135, "busy", "forward", "+14085550176"),
    (60 * 5, "canceled", "forward", "+12065550111"),
    (60 * 26, "no-answer", "forward", "+17185550190"),
]


def earlier_calls(console: StackConsole) -> None:
    """The list's history: two answered calls placed for real, and unanswered ones written and priced."""
    conversation = bundled_conversation()
    for caller in (
        CallerId(from_number="+12125550187", to_number=LISTEN_NUMBER),  # handed to the team's TwiML app
        CallerId(from_number="+13125550148", to_number=OURS),  # forwarded
    ):
        console.place_call(conversation, speed=4, caller=caller).join()
    calls = DynamoWebhookCalls(console.stack.options.names.calls_table)
    for minutes, status, route, caller in UNANSWERED:
        started = datetime.now(UTC) - timedelta(minutes=minutes)
        sid = console.seed_call(
            started=started, status=status, route=route, them=caller, ours=OURS, duration=0
        )
        record_cost(calls, sid, Prices())


def shoot(page: Page, path: Path, *, full_page: bool = False) -> None:
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "console")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.update(fake_credentials_env())
    logging.basicConfig(level=logging.WARNING)
    with stack_console() as console, sync_playwright() as pw:
        earlier_calls(console)
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
        page = context.new_page()

        page.goto(console.url)
        page.locator("input[name=username]").fill(console.supervisor.username)
        page.locator("input[name=password]").fill("not-my-password")
        page.locator("button[type=submit]").click()
        expect(page.get_by_role("alert")).to_be_visible()
        shoot(page, out / "signin.png")

        page.locator("input[name=password]").fill(console.supervisor.password)
        page.locator("button[type=submit]").click()
        expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
        expect(page.locator("section[aria-labelledby=list-heading] [data-testid=call-row]")).to_have_count(6)

        live = console.place_call(bundled_conversation(), caller=CallerId(from_number="+15105550134"))
        row = page.locator(f"section[aria-labelledby=live-heading] [data-call-sid={live.call_sid}]")
        expect(row.locator("[data-field=status]")).to_have_text("In progress", timeout=20_000)
        shoot(page, out / "calls.png", full_page=True)

        row.locator("a").click()
        expect(page.locator("[data-testid=segment]").nth(3)).to_be_visible(timeout=30_000)  # a few lines in
        shoot(page, out / "call-live.png", full_page=True)  # it follows the newest line: the whole page

        live.join()
        expect(page.locator("[data-testid=gaps]")).to_be_visible(timeout=SETTLE_MS)  # reconciled
        expect(page.locator("[data-testid=summary]")).to_be_visible(timeout=SETTLE_MS)
        recording_part = page.locator("#cost").get_by_text("Deepgram recording transcription")
        expect(recording_part).to_be_visible(timeout=SETTLE_MS)  # the cost estimated again, complete
        expect(page.locator("[data-testid=legs] li")).to_contain_text("Completed", timeout=SETTLE_MS)
        lines = page.locator("[data-testid=segment][data-seek]")
        expect(lines.first).to_be_visible(timeout=SETTLE_MS)
        lines.nth(min(5, lines.count() - 1)).click()  # the player moves to it; the line is highlighted
        page.evaluate("window.scrollTo(0, 0)")  # (the click scrolled the line into view)
        shoot(page, out / "call.png", full_page=True)

        viewer = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US").new_page()
        sign_in(viewer, console.url, console.viewer, at=f"/#/calls/{live.call_sid}")
        expect(viewer.get_by_text("Recording available to supervisors.")).to_be_visible()
        expect(viewer.locator("[data-testid=summary]")).to_be_visible()
        shoot(viewer, out / "call-viewer.png")
        browser.close()


if __name__ == "__main__":
    main()
