"""The saved queries analysts get in Athena (one named query each), on the flat tables.

Must keep, in every query: read only the `_current` tables (no filter on `dt`); leave legs out of
call-level questions (`NOT is_leg`); price the conversation (a call with its legs) and average only
over priced calls, so `usd_per_call` is the same mean in every query; duration statistics over
answered calls only. Parameters are `?`, bound in order; `bind` refuses a missing or malformed one
with one line naming it. docs/analytics.md ("Saved queries") says what a row is and which calls
count; tests/e2e/test_analytics.py runs every query on DuckDB against real exports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.analytics.schema import CALL_FACTS, EVALUATION_ANSWERS, TABLES, TRANSCRIPT_LINES

CALLS = TABLES[CALL_FACTS].current
LINES = TABLES[TRANSCRIPT_LINES].current
ANSWERS = TABLES[EVALUATION_ANSWERS].current
# under this share of the call heard live, a call is worth a look (the rest came from the recording)
LOW_LIVE_COVERAGE = 0.9
# Twilio's final statuses (shared/status.py, rank 4): a call in one of them has ended
ENDED = "status IN ('completed', 'busy', 'no-answer', 'failed', 'canceled')"

_COST_PARTS = (
    "twilio_voice_usd",
    "twilio_recording_usd",
    "deepgram_live_usd",
    "deepgram_prerecorded_usd",
    "claude_usd",
    "tts_usd",
)
# The conversation's cost is known once every record of it (the call, each leg) has one; until then
# its total and parts are NULL, so sums, averages and counts of the total skip it.
_PRICED = "count_if(cost_total_usd IS NULL) = 0"
_CONVERSATION = (
    "conversation AS (\n"
    "    SELECT coalesce(parent_call_sid, call_sid) AS call_sid, count_if(is_leg) AS legs,\n"
    f"           CASE WHEN {_PRICED} THEN sum(cost_total_usd) END AS total_usd"
    + "".join(
        f",\n           CASE WHEN {_PRICED} THEN sum(cost_{part}) END AS {part}" for part in _COST_PARTS
    )
    + f"\n    FROM {CALLS}\n    GROUP BY coalesce(parent_call_sid, call_sid)\n)"
)


class ParameterError(ValueError):
    """A saved query's parameter is missing, malformed or not one it takes (a one-line message)."""


@dataclass(frozen=True)
class Parameter:
    name: str  # also the CLI option: call_sid -> --call-sid
    description: str
    pattern: str  # a value must match it whole

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


CALL_SID = Parameter("call_sid", "a call SID (CA and 32 hex digits)", r"CA[0-9a-f]{32}")


@dataclass(frozen=True)
class SavedQuery:
    name: str
    description: str
    sql: str
    parameters: tuple[Parameter, ...] = ()

    def bind(self, given: Mapping[str, str | None]) -> list[str]:
        """The values for the query's `?`s, in order, from `given` (parameter name -> value or None).

        Raises ParameterError naming what is missing, malformed or not taken by this query."""
        mine = {parameter.name for parameter in self.parameters}
        for name, value in given.items():
            if value is not None and name not in mine:
                option = "--" + name.replace("_", "-")
                raise ParameterError(f"{self.name} takes no {option}")
        values = []
        for parameter in self.parameters:
            value = given.get(parameter.name)
            if value is None or not value.strip():
                raise ParameterError(f"{self.name} needs {parameter.option}: {parameter.description}")
            if not re.fullmatch(parameter.pattern, value.strip()):
                raise ParameterError(f"{parameter.option} {value!r} is not {parameter.description}")
            values.append(value.strip())
        return values


SAVED_QUERIES: tuple[SavedQuery, ...] = (
    SavedQuery(
        "calls-per-day-and-status",
        "Calls per day and status (final, or where a call in progress has got to)",
        f"""SELECT call_date, status, count(*) AS calls
FROM {CALLS}
WHERE NOT is_leg
GROUP BY call_date, status
ORDER BY call_date DESC, calls DESC, status""",
    ),
    SavedQuery(
        "volume-by-hour-and-number",
        "Calls, answered calls and talk time per UTC hour of the day and our number",
        f"""SELECT call_hour, our_number, count(*) AS calls, count_if(answered) AS answered,
       sum(CASE WHEN answered THEN duration_seconds ELSE 0 END) AS talk_seconds
FROM {CALLS}
WHERE NOT is_leg
GROUP BY call_hour, our_number
ORDER BY call_hour, our_number""",
    ),
    SavedQuery(
        "average-duration",
        "Average, p50 and p90 duration of answered calls per day and direction; unanswered counted apart",
        f"""SELECT call_date, direction, count_if(answered) AS answered_calls,
       count_if(NOT answered AND {ENDED}) AS unanswered_calls,
       round(avg(CASE WHEN answered THEN duration_seconds END), 1) AS avg_seconds,
       approx_percentile(CASE WHEN answered THEN duration_seconds END, 0.5) AS p50_seconds,
       approx_percentile(CASE WHEN answered THEN duration_seconds END, 0.9) AS p90_seconds
FROM {CALLS}
WHERE NOT is_leg
GROUP BY call_date, direction
ORDER BY call_date DESC, direction""",
    ),
    SavedQuery(
        "top-topics",
        "Most frequent summary topics over the last 30 days",
        f"""SELECT topic, count(*) AS calls
FROM {CALLS}
CROSS JOIN UNNEST(topics) AS t(topic)
WHERE call_date >= current_date - INTERVAL '30' DAY
GROUP BY topic
ORDER BY calls DESC, topic
LIMIT 25""",
    ),
    SavedQuery(
        "outcome-and-sentiment-trend",
        "Summarised calls per day by outcome and caller sentiment, and how many need a follow-up",
        f"""SELECT call_date, outcome, sentiment, count(*) AS calls,
       count_if(follow_up_needed) AS need_follow_up
FROM {CALLS}
WHERE outcome IS NOT NULL
GROUP BY call_date, outcome, sentiment
ORDER BY call_date DESC, calls DESC, outcome, sentiment""",
    ),
    SavedQuery(
        "evaluation-pass-rates",
        "Per evaluation question and day: calls answered, and for yes/no questions the share answered yes",
        f"""SELECT call_date, question_id, answer_type, count(*) AS calls,
       count(answer) AS answered,
       count_if(answer_bool) AS yes,
       round(CAST(count_if(answer_bool) AS double) / nullif(count(answer_bool), 0), 3) AS yes_rate,
       round(avg(answer_number), 2) AS avg_number
FROM {ANSWERS}
GROUP BY call_date, question_id, answer_type
ORDER BY call_date DESC, question_id""",
    ),
    SavedQuery(
        "cost-per-day",
        "Estimated cost per day of the calls whose cost is known (each with its legs), in total, by "
        "part and per call; calls still unpriced counted apart",
        f"""WITH {_CONVERSATION}
SELECT c.call_date, count(*) AS calls, count(v.total_usd) AS priced_calls,
       round(sum(v.total_usd), 4) AS total_usd,
"""
        + "".join(f"       round(sum(v.{part}), 4) AS {part},\n" for part in _COST_PARTS)
        + f"""       round(avg(v.total_usd), 4) AS usd_per_call
FROM {CALLS} c
JOIN conversation v ON v.call_sid = c.call_sid
WHERE NOT c.is_leg
GROUP BY c.call_date
ORDER BY c.call_date DESC""",
    ),
    SavedQuery(
        "cost-per-call",
        "The 100 most expensive calls whose cost is known, each with its dialled legs' cost added",
        f"""WITH {_CONVERSATION}
SELECT c.call_sid, c.call_date, coalesce(c.route, 'unrouted') AS route, v.legs,
       round(v.total_usd, 6) AS total_usd, c.duration_seconds
FROM {CALLS} c
JOIN conversation v ON v.call_sid = c.call_sid
WHERE NOT c.is_leg AND v.total_usd IS NOT NULL
ORDER BY total_usd DESC, c.call_sid
LIMIT 100""",
    ),
    SavedQuery(
        "cost-by-route",
        "Estimated cost per route (forward, voicemail, agent, listen, outbound) of the calls whose cost is "
        "known, each with its legs: total, per call and per answered minute",
        f"""WITH {_CONVERSATION}
SELECT coalesce(c.route, 'unrouted') AS route, count(*) AS calls, count(v.total_usd) AS priced_calls,
       round(sum(v.total_usd), 4) AS total_usd,
       round(avg(v.total_usd), 4) AS usd_per_call,
       round(sum(v.total_usd)
             / nullif(sum(CASE WHEN c.answered AND v.total_usd IS NOT NULL THEN c.duration_seconds END), 0)
             * 60, 4) AS usd_per_answered_minute
FROM {CALLS} c
JOIN conversation v ON v.call_sid = c.call_sid
WHERE NOT c.is_leg
GROUP BY coalesce(c.route, 'unrouted')
ORDER BY total_usd DESC, route""",
    ),
    SavedQuery(
        "calls-with-gaps",
        f"Calls whose live transcript missed words the recording filled in, or heard under "
        f"{LOW_LIVE_COVERAGE:.0%} live",
        f"""SELECT call_sid, call_date, transcript_source, live_coverage, gap_count, filled_seconds,
       transcript_status, transcript_error
FROM {CALLS}
WHERE NOT is_leg
  AND (gap_count > 0 OR live_coverage < {LOW_LIVE_COVERAGE})
ORDER BY live_coverage, call_sid""",
    ),
    SavedQuery(
        "failed-transcripts",
        "Answered calls whose transcript failed or never completed, with the error",
        f"""SELECT call_sid, call_date, status, transcript_status, transcript_error, duration_seconds
FROM {CALLS}
WHERE status = 'completed' AND NOT is_leg
  AND (transcript_status IS NULL OR transcript_status <> 'completed')
ORDER BY started_at DESC""",
    ),
    SavedQuery(
        "redactions-per-day",
        "Calls per day whose transcript had card numbers, SSNs or other configured patterns redacted",
        f"""SELECT call_date, count_if(redacted_total > 0) AS calls_redacted,
       sum(redacted_cards) AS cards, sum(redacted_ssns) AS ssns, sum(redacted_total) AS total
FROM {CALLS}
WHERE NOT is_leg
GROUP BY call_date
ORDER BY call_date DESC""",
    ),
    SavedQuery(
        "transcript-of-a-call",
        "One call's transcript in order (the call SID is the query's parameter)",
        f"""SELECT track, speaker, start_seconds, source, text
FROM {LINES}
WHERE call_sid = ?
ORDER BY segment_key""",
        parameters=(CALL_SID,),
    ),
)
