"""Write-time redaction's cost per final segment in the streamer, the summaries' pass, and a log line.

    .venv/bin/python bench/redaction.py [--rounds 15] [--segments 2000]

Each case is a list of realistic final segments (one speaker, one track) fed through the streamer's
`CallRedaction.accept` exactly as `CallTracks.store` does (a fresh `CallRedaction` per case and round,
as per call; `flush` at the end, as at hang-up; segments 3 s apart, so no time bound is reached),
`--segments` segments per case per round; a case's segments are held and released as the streamer
would (the cost of a held segment is paid when its run is judged). Modes:

- `off`: `TRANSCRIPT_REDACTION=false` (`CallRedaction(None)`: the segment passes through);
- `on`: the default rules, no configured patterns;
- `on+3`: three `TRANSCRIPT_REDACTION_PATTERNS` (below: an order number, an IBAN, an e-mail address).

Every (case, mode) runs once per round, the order rotating each round; the figure is the median
over rounds of CPU time (`time.process_time`, robust to the shared machine's load) per segment, in
µs. `summary` is the summaries Lambda's transcript pass (`redact_transcript` in
functions/summaries/redaction.py: `Redactor.redact_lines` over a whole transcript, each speaker one
stream): a 10-minute call's ~300 lines, per transcript. `log_line` is what the shared log formatter
adds to one log record (`shared.log_privacy.redact_values` over a typical record's dict), in µs.

The context line scales the measured cost to a streamer task: `--calls` calls (default 100), two
tracks each, one final segment every `--segment-every` seconds per track (default 2, the busy end
of the 2-5 s range), i.e. the share of one core spent redacting. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.log_privacy import redact_values  # noqa: E402
from shared.redaction import Redactor, parse_patterns  # noqa: E402
from streamer.deepgram import Segment  # noqa: E402
from streamer.redaction import CallRedaction, Pending  # noqa: E402

# TRANSCRIPT_REDACTION_PATTERNS as an operator would set it (JSON: name -> regex)
PATTERNS_JSON = json.dumps(
    {
        "order": r"\bORD-\d{6,10}\b",
        "iban": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b",
        "email": r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
    }
)

LONG = (
    "okay so what happened is I called last Tuesday about the charge on my statement and the person I "
    "spoke to said it would be reversed within five business days but it is still there and now there "
    "is a late fee on top of it as well"
)

# One call's worth of each kind of final segment, as Deepgram's smart formatting writes them.
CASES: dict[str, list[str]] = {
    "plain": [
        "hi thanks for calling, how can I help you today",
        "yeah I'm looking at my bill from last month and it seems a lot higher than usual",
        "sure, let me pull that up for you, one moment please",
        "it says there was a roaming charge but I haven't been abroad",
    ],
    "card_words": [
        "my card number is four one one one one one one one one one one one one one one one",
    ],
    "card_digits": ["sure it's 4111 1111 1111 1111 and it expires 09/27"],
    "ssn": ["my social is 123-45-6789, do you need my date of birth too"],
    "long_40_words": [" ".join(LONG.split()[:40])],
    # a number read in groups: two digits-only finals are held, then judged with the next words
    "card_in_groups": ["4111 1111", "1111 1111", "and the expiry is September twenty seven"],
    # as people read a card: one group per final, the expiry and the code, then words (all held)
    "card_one_group_per_final": ["4111", "1111", "1111", "1111", "0 4 2 7", "1 2 3", "is that right"],
    "card_commas_and_code": ["it's 4111, 1111, 1111, 1111, expiry 04/27, and the code is 123, thanks"],
    # speech whose words can spell digits ("oh", "one", "two"): tokenised, nothing redacted
    "digit_words_in_speech": ["oh I see, that one is the one I wanted, and two of the others too"],
    # a segment ending in a short number: held until the next final of its track
    "ends_in_number": ["my zip code is 94105", "and the flat is number 12", "that's all"],
    # what the three configured patterns take out (kept under `on`, which has no patterns)
    "configured_hits": ["it's order ORD-4421907, and my email is jane.doe@example.com"],
    # amounts, times, dates and a phone number that must all be kept
    "kept_numbers": [
        "the payment of $1,250.00 on 2024-05-01 at 10:30, call us back on 415 555 1234 please",
    ],
}
MODES = ("off", "on", "on+3")


def segments_for(texts: list[str], count: int) -> list[Segment]:
    cycle = itertools.cycle(texts)
    return [Segment("inbound", next(cycle), i * 3.0, i * 3.0 + 2.5, 0.93, 0.0) for i in range(count)]


def redaction_for(mode: str, patterns: dict) -> CallRedaction:  # type: ignore[type-arg]
    if mode == "off":
        return CallRedaction(None)
    return CallRedaction(Redactor(patterns=patterns if mode == "on+3" else {}))


def run_case(segments: list[Segment], mode: str, patterns: dict) -> tuple[float, int, dict[str, int]]:  # type: ignore[type-arg]
    """CPU seconds for one call's segments through CallRedaction; segments released; counts."""
    t0 = time.process_time()
    redaction = redaction_for(mode, patterns)
    released = 0
    for segment in segments:
        released += len(redaction.accept(Pending(segment, "caller", "deepgram:nova-3")))
    released += len(redaction.flush())
    cpu = time.process_time() - t0
    return cpu, released, redaction.counts


LOG_RECORD = {
    "level": "INFO",
    "location": "_finish:432",
    "message": "transcript finished",
    "timestamp": "2026-12-07 10:30:00,123+0000",
    "service": "callscribe-streamer",
    "call_sid": "CA0123456789abcdef0123456789abcdef",
    "status": "completed",
    "segment_count": 42,
    "reconnects": 0,
    "error": "ClientError: An error occurred (ThrottlingException) when calling the UpdateItem operation",
}


def summary_transcript(lines: int = 300) -> tuple[list[str], list[str]]:
    """A 10-minute call's lines for the summaries' pass: mostly speech, a card read in groups, an SSN."""
    pool = [*CASES["plain"], *CASES["kept_numbers"], CASES["long_40_words"][0]]
    texts = [pool[i % len(pool)] for i in range(lines)]
    speakers = ["caller" if i % 2 else "callee" for i in range(lines)]
    texts[100:103] = ["4111 1111", "1111 1111", "thanks"]
    speakers[100:103] = ["caller"] * 3
    texts[200] = CASES["ssn"][0]
    return speakers, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--segments", type=int, default=2000, help="segments per case per round")
    parser.add_argument("--calls", type=int, default=100, help="calls per streamer task (context)")
    parser.add_argument("--segment-every", type=float, default=2.0, help="seconds between finals per track")
    args = parser.parse_args()

    patterns = parse_patterns(PATTERNS_JSON)
    inputs = {name: segments_for(texts, args.segments) for name, texts in CASES.items()}
    speakers, lines = summary_transcript()
    jobs = [(case, mode) for case in CASES for mode in MODES] + [("summary", "on"), ("summary", "on+3")]
    jobs.append(("log_line", "on"))

    for case, mode in jobs:  # warm-up: regex caches, first-use imports
        if case not in ("summary", "log_line"):
            run_case(inputs[case][:50], mode, patterns)
    checks: dict[str, object] = {}
    cpu: dict[tuple[str, str], list[float]] = {job: [] for job in jobs}
    load = [round(os.getloadavg()[0], 2)]
    for round_no in range(args.rounds):
        shift = round_no % len(jobs)
        for case, mode in jobs[shift:] + jobs[:shift]:
            if case == "log_line":
                t0 = time.process_time()
                for _ in range(args.segments):
                    redact_values(LOG_RECORD)
                cpu[(case, mode)].append((time.process_time() - t0) / args.segments * 1e6)  # µs per line
                continue
            if case == "summary":
                t0 = time.process_time()
                redactor = Redactor(patterns=patterns if mode == "on+3" else {})
                out = redactor.redact_lines(speakers, lines, [i * 2.0 for i in range(len(lines))])
                cpu[(case, mode)].append((time.process_time() - t0) * 1e3)  # ms per transcript
                checks[f"summary/{mode}"] = {"lines": len(out), "counts": dict(redactor.counts)}
                continue
            seconds, released, counts = run_case(inputs[case], mode, patterns)
            assert released == args.segments, (case, mode, released)  # every segment written once
            cpu[(case, mode)].append(seconds / args.segments * 1e6)  # µs per segment
            if mode != "off":
                checks[f"{case}/{mode}"] = counts
    load.append(round(os.getloadavg()[0], 2))

    per_segment = {
        case: {mode: round(statistics.median(cpu[(case, mode)]), 2) for mode in MODES} for case in CASES
    }
    # context: the realistic mix is mostly plain speech; take the worst case and the long one as bounds
    rate = args.calls * 2 / args.segment_every  # segments per second per task
    worst = max(v["on+3"] for v in per_segment.values())
    typical = per_segment["plain"]["on+3"]
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "segments_per_case_per_round": args.segments,
                "cpu_us_per_segment_median": per_segment,
                "cpu_us_per_segment_range_on": {
                    case: [round(min(cpu[(case, "on")]), 2), round(max(cpu[(case, "on")]), 2)]
                    for case in CASES
                },
                "summary_redact_lines_ms_per_300_line_transcript": {
                    mode: round(statistics.median(cpu[("summary", mode)]), 3) for mode in ("on", "on+3")
                },
                "log_line_us_median": round(statistics.median(cpu[("log_line", "on")]), 2),
                "counts_last_round": checks,
                "context": {
                    "segments_per_second_per_task": rate,
                    "core_share_pct_plain_on+3": round(rate * typical / 1e4, 4),
                    "core_share_pct_worst_case_on+3": round(rate * worst / 1e4, 4),
                },
                "long_segment_words": len(CASES["long_40_words"][0].split()),
                "load_avg": load,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
