"""Take the screenshots in docs/console.md: the console on the console server, in Chromium at a laptop's
1440 x 900, with a call in progress and a finished forwarded call.

    PYTHONPATH=$PWD .venv/bin/python scripts/console_screenshots.py [--out docs/images/console]

The calls come from the browser tests' doubles of the read API and the feed (tests/support), with the
people in moto's Cognito, so the pages show every part (summary, evaluation, cost, legs, a gap) with
readable words.
"""

from __future__ import annotations

import argparse
import os
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from callscribe_local.aws_local import fake_credentials_env
from tests.browser.conftest import LAUNCH_ARGS, chromium_path, sign_in
from tests.support.console_api_double import call_record, iso, minutes_ago, segment, tone_wav
from tests.support.console_harness import ConsoleHarness, console_harness
from tests.support.console_people import SUPERVISOR, VIEWER

REPO = Path(__file__).resolve().parent.parent
SUMMARY = (
    "The caller asked why their November invoice was higher than usual. The agent found a one-off "
    "installation fee of forty dollars and split it over the next two invoices. The caller was satisfied."
)
OURS = "+14155550100"
CONVERSATION = [
    (2.4, "outbound", "live", "Good morning, Acme support, this is Dana speaking."),
    (
        5.1,
        "inbound",
        "live",
        "Hi Dana, I have a question about my November invoice. It is higher than usual.",
    ),
    (10.2, "outbound", "live", "Of course. Could you give me the last four digits of the account number?"),
    (14.0, "inbound", "recording", "Sure, it is four four seven two."),
    (
        17.6,
        "outbound",
        "live",
        "Thank you. I can see a one-off installation fee of forty dollars on that invoice.",
    ),
    (23.9, "inbound", "live", "Oh, I did not expect that. Can it be split?"),
    (27.2, "outbound", "live", "Yes, I can split it over your next two invoices, twenty dollars each."),
    (32.8, "inbound", "live", "That would be great, thank you."),
    (35.0, "outbound", "live", "You are welcome. Anything else I can help with today?"),
    (38.4, "inbound", "live", "No, that is all. Have a good day."),
]


def sid() -> str:
    return "CA" + uuid.uuid4().hex


def seed(harness: ConsoleHarness) -> tuple[str, str]:
    finished = sid()
    harness.api.put_call(
        call_record(
            finished,
            started=minutes_ago(18),
            status="completed",
            endedAt=iso(minutes_ago(17.2)),
            durationSeconds=46,
            transcriptStatus="completed",
            transcriptSource="live+recording",
            liveCoverage=0.94,
            gaps=[{"track": "inbound", "start": 13.9, "end": 16.1}],
            recording={
                "sid": "RE" + uuid.uuid4().hex,
                "url": None,
                "status": "completed",
                "durationSeconds": 44,
                "channels": 2,
            },
            cost={
                "totalUsd": 0.0291,
                "twilioVoiceUsd": 0.0085,
                "twilioRecordingUsd": 0.0025,
                "deepgramLiveUsd": 0.0154,
                "deepgramPrerecordedUsd": 0.0022,
                "claudeUsd": 0.0005,
                "voiceMinutes": 1,
                "recordingMinutes": 1,
                "liveTrackMinutes": 1.54,
                "prerecordedMinutes": 0.77,
                "pricesAsOf": "2026-11-01",
            },
            legs=[
                {
                    "callSid": sid(),
                    "direction": "outbound-dial",
                    "to": "+14155550199",
                    "status": "completed",
                    "durationSeconds": 44,
                    "cost": {"totalUsd": 0.0085},
                }
            ],
            conversationCostUsd=0.0376,
            summaryStatus="completed",
            summary={
                "summary": SUMMARY,
                "topics": ["billing", "invoice", "installation fee"],
                "caller_intent": "Understand why the November invoice was higher than usual.",
                "outcome": "resolved",
                "sentiment": "positive",
                "action_items": [
                    {"owner": "agent", "description": "Split the installation fee over two invoices."}
                ],
                "follow_up_needed": False,
                "model": "claude-sonnet-4-5",
                "segment_count": len(CONVERSATION),
            },
            evaluations=[
                {
                    "id": "greeted",
                    "question": "Did the agent greet the caller?",
                    "type": "yes_no",
                    "answer": "yes",
                    "answered_by": "claude-sonnet-4-5",
                },
                {
                    "id": "reason",
                    "question": "Reason for calling",
                    "type": "choice",
                    "answer": "billing",
                    "answered_by": "claude-sonnet-4-5",
                },
                {
                    "id": "resolved",
                    "question": "Was the caller's problem solved on the call?",
                    "type": "yes_no",
                    "answer": "yes",
                    "answered_by": "claude-sonnet-4-5",
                },
            ],
            transcript=[
                segment(finished, s, text, track=track, source=src) for s, track, src, text in CONVERSATION
            ],
        )
    )
    harness.api.set_recording(finished, tone_wav(44), 2.37)
    live = sid()
    harness.api.put_call(
        call_record(
            live,
            started=minutes_ago(0.9),
            **{"from": "+12125550187"},
            transcript=[segment(live, s, text, track=track) for s, track, _src, text in CONVERSATION[:4]],
        )
    )
    statuses = ["completed", "no-answer", "completed", "busy", "completed", "completed", "failed"]
    routes = ["voicemail", "voicemail", "agent", "forward", "outbound", "forward", "forward"]
    callers = [
        "+13125550148",
        "+16175550123",
        "+14085550176",
        "+12065550111",
        "+17185550190",
        "+15105550134",
        "+19175550102",
    ]
    for i, (status, route) in enumerate(zip(statuses, routes, strict=True)):
        outbound = route == "outbound"
        parties = {"from": OURS, "to": callers[i]} if outbound else {"from": callers[i], "to": OURS}
        harness.api.put_call(
            call_record(
                sid(),
                started=minutes_ago(45 + 70 * i),
                status=status,
                route=route,
                direction="outbound-api" if outbound else "inbound",
                durationSeconds=[61, 0, 214, 0, 33, 127, 0][i],
                transcriptStatus="completed",
                cost={"totalUsd": [0.0131, 0.0012, 0.0612, 0.001, 0.0094, 0.0277, 0.0][i]},
                **parties,
            )
        )
    return finished, live


def shoot(page: Page, path: Path, *, full_page: bool = False) -> None:
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path.relative_to(REPO)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "console")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.update(fake_credentials_env())
    with console_harness() as harness, sync_playwright() as pw:
        finished, live = seed(harness)
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
        page = context.new_page()

        page.goto(harness.url)
        page.locator("input[name=username]").fill(SUPERVISOR.username)
        page.locator("input[name=password]").fill("not-my-password")
        page.locator("button[type=submit]").click()
        expect(page.get_by_role("alert")).to_be_visible()
        shoot(page, args.out / "signin.png")

        page.locator("input[name=password]").fill(SUPERVISOR.password)
        page.locator("button[type=submit]").click()
        expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
        expect(page.locator("[data-testid=call-row]")).to_have_count(9)
        shoot(page, args.out / "calls.png", full_page=True)

        page.goto(f"{harness.url}/#/calls/{live}")
        expect(page.locator("[data-testid=segment]")).to_have_count(4)
        harness.feed.publish(f"/calls/{live}", segment(live, 17.6, CONVERSATION[4][3], track="outbound"))
        expect(page.locator("[data-testid=segment]")).to_have_count(5)
        shoot(page, args.out / "call-live.png")

        page.goto(f"{harness.url}/#/calls/{finished}")
        expect(page.locator("[data-testid=segment][data-seek]")).to_have_count(len(CONVERSATION))
        page.locator("[data-testid=segment]").nth(
            5
        ).click()  # the player moves to it; the line is highlighted
        page.evaluate("window.scrollTo(0, 0)")  # (the click scrolled the line into view)
        shoot(page, args.out / "call.png", full_page=True)

        viewer = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US").new_page()
        sign_in(viewer, harness.url, VIEWER, at=f"/#/calls/{finished}")
        expect(viewer.get_by_text("Recording available to supervisors.")).to_be_visible()
        shoot(viewer, args.out / "call-viewer.png")
        browser.close()


if __name__ == "__main__":
    main()
