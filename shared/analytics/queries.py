"""The saved queries analysts get in Athena (one named query each), on the flat tables.

Every query reads the latest daily snapshot only (`dt = max(dt)`): each export holds every call, so
older partitions are history, not more data. Call-level questions skip legs (`NOT is_leg`: a
forwarded call's <Dial>ed party has its own record), except cost, which adds a call's legs to it.
Duration statistics are over answered calls only: an unanswered call has no conversation to time,
and counting it as 0 s would make the average describe the answer rate instead; the unanswered are
counted in a column of their own.

Each query runs in `make test` against an export of calls the local stack placed, on DuckDB
(tests/e2e/test_analytics.py), with its answers checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.analytics.schema import CALL_FACTS, EVALUATION_ANSWERS, TRANSCRIPT_LINES

LATEST = f"dt = (SELECT max(dt) FROM {CALL_FACTS})"
# under this share of the call heard live, a call is worth a look (the rest came from the recording)
LOW_LIVE_COVERAGE = 0.9


@dataclass(frozen=True)
class SavedQuery:
    name: str
    description: str
    sql: str


SAVED_QUERIES: tuple[SavedQuery, ...] = (
    SavedQuery(
        "calls-per-day-and-status",
        "Calls per day and final status",
        f"""SELECT call_date, status, count(*) AS calls
FROM {CALL_FACTS}
WHERE {LATEST} AND NOT is_leg
GROUP BY call_date, status
ORDER BY call_date DESC, calls DESC, status""",
    ),
    SavedQuery(
        "volume-by-hour-and-number",
        "Calls, answered calls and talk time per UTC hour of the day and our number",
        f"""SELECT call_hour, our_number, count(*) AS calls, count_if(answered) AS answered,
       sum(CASE WHEN answered THEN duration_seconds ELSE 0 END) AS talk_seconds
FROM {CALL_FACTS}
WHERE {LATEST} AND NOT is_leg
GROUP BY call_hour, our_number
ORDER BY call_hour, our_number""",
    ),
    SavedQuery(
        "average-duration",
        "Average, p50 and p90 duration of answered calls per day and direction; unanswered counted apart",
        f"""SELECT call_date, direction, count_if(answered) AS answered_calls,
       count_if(NOT answered) AS unanswered_calls,
       round(avg(CASE WHEN answered THEN duration_seconds END), 1) AS avg_seconds,
       approx_percentile(CASE WHEN answered THEN duration_seconds END, 0.5) AS p50_seconds,
       approx_percentile(CASE WHEN answered THEN duration_seconds END, 0.9) AS p90_seconds
FROM {CALL_FACTS}
WHERE {LATEST} AND NOT is_leg
GROUP BY call_date, direction
ORDER BY call_date DESC, direction""",
    ),
    SavedQuery(
        "top-topics",
        "Most frequent summary topics over the last 30 days",
        f"""SELECT topic, count(*) AS calls
FROM {CALL_FACTS}
CROSS JOIN UNNEST(topics) AS t(topic)
WHERE {LATEST} AND call_date >= current_date - INTERVAL '30' DAY
GROUP BY topic
ORDER BY calls DESC, topic
LIMIT 25""",
    ),
    SavedQuery(
        "outcome-and-sentiment-trend",
        "Summarised calls per day by outcome and caller sentiment, and how many need a follow-up",
        f"""SELECT call_date, outcome, sentiment, count(*) AS calls,
       count_if(follow_up_needed) AS need_follow_up
FROM {CALL_FACTS}
WHERE {LATEST} AND outcome IS NOT NULL
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
FROM {EVALUATION_ANSWERS}
WHERE dt = (SELECT max(dt) FROM {EVALUATION_ANSWERS})
GROUP BY call_date, question_id, answer_type
ORDER BY call_date DESC, question_id""",
    ),
    SavedQuery(
        "cost-per-day",
        "Estimated cost per day, in total and by part (a call and its legs), and per call",
        f"""SELECT call_date, count_if(NOT is_leg) AS calls,
       round(sum(cost_total_usd), 4) AS total_usd,
       round(sum(cost_twilio_voice_usd), 4) AS twilio_voice_usd,
       round(sum(cost_twilio_recording_usd), 4) AS twilio_recording_usd,
       round(sum(cost_deepgram_live_usd), 4) AS deepgram_live_usd,
       round(sum(cost_deepgram_prerecorded_usd), 4) AS deepgram_prerecorded_usd,
       round(sum(cost_claude_usd), 4) AS claude_usd,
       round(sum(cost_tts_usd), 4) AS tts_usd,
       round(sum(cost_total_usd) / nullif(count_if(NOT is_leg), 0), 4) AS usd_per_call
FROM {CALL_FACTS}
WHERE {LATEST}
GROUP BY call_date
ORDER BY call_date DESC""",
    ),
    SavedQuery(
        "cost-per-call",
        "The 100 most expensive calls, each with its legs' cost added",
        f"""SELECT coalesce(parent_call_sid, call_sid) AS call_sid,
       min(call_date) AS call_date, count(*) AS legs,
       round(sum(cost_total_usd), 6) AS total_usd,
       max(CASE WHEN NOT is_leg THEN duration_seconds END) AS duration_seconds
FROM {CALL_FACTS}
WHERE {LATEST}
GROUP BY coalesce(parent_call_sid, call_sid)
ORDER BY total_usd DESC, call_sid
LIMIT 100""",
    ),
    SavedQuery(
        "cost-by-route",
        "Estimated cost per route (forward, voicemail, agent, outbound): calls, total, per call and "
        "per answered minute, each call with its legs' cost added",
        f"""WITH conversation AS (
    SELECT coalesce(parent_call_sid, call_sid) AS call_sid, sum(cost_total_usd) AS usd
    FROM {CALL_FACTS}
    WHERE {LATEST}
    GROUP BY coalesce(parent_call_sid, call_sid)
)
SELECT coalesce(c.route, 'unrouted') AS route, count(*) AS calls,
       round(sum(conversation.usd), 4) AS total_usd,
       round(avg(conversation.usd), 4) AS usd_per_call,
       round(sum(conversation.usd) / nullif(sum(CASE WHEN c.answered THEN c.duration_seconds END), 0) * 60, 4)
           AS usd_per_answered_minute
FROM {CALL_FACTS} c
JOIN conversation ON conversation.call_sid = c.call_sid
WHERE c.{LATEST} AND NOT c.is_leg
GROUP BY coalesce(c.route, 'unrouted')
ORDER BY total_usd DESC, route""",
    ),
    SavedQuery(
        "calls-with-gaps",
        f"Calls whose live transcript missed words the recording filled in, or heard under "
        f"{LOW_LIVE_COVERAGE:.0%} live",
        f"""SELECT call_sid, call_date, transcript_source, live_coverage, gap_count, filled_seconds,
       transcript_status, transcript_error
FROM {CALL_FACTS}
WHERE {LATEST} AND NOT is_leg
  AND (gap_count > 0 OR live_coverage < {LOW_LIVE_COVERAGE})
ORDER BY live_coverage, call_sid""",
    ),
    SavedQuery(
        "failed-transcripts",
        "Answered calls whose transcript failed or never completed, with the error",
        f"""SELECT call_sid, call_date, status, transcript_status, transcript_error, duration_seconds
FROM {CALL_FACTS}
WHERE {LATEST} AND status = 'completed' AND NOT is_leg
  AND (transcript_status IS NULL OR transcript_status <> 'completed')
ORDER BY started_at DESC""",
    ),
    SavedQuery(
        "redactions-per-day",
        "Calls per day whose transcript had card numbers, SSNs or other configured patterns redacted",
        f"""SELECT call_date, count_if(redacted_total > 0) AS calls_redacted,
       sum(redacted_cards) AS cards, sum(redacted_ssns) AS ssns, sum(redacted_total) AS total
FROM {CALL_FACTS}
WHERE {LATEST} AND NOT is_leg
GROUP BY call_date
ORDER BY call_date DESC""",
    ),
    SavedQuery(
        "transcript-of-a-call",
        "One call's transcript in order (replace the call SID)",
        f"""SELECT track, speaker, start_seconds, source, text
FROM {TRANSCRIPT_LINES}
WHERE dt = (SELECT max(dt) FROM {TRANSCRIPT_LINES}) AND call_sid = 'CA_REPLACE_ME'
ORDER BY segment_key""",
    ),
)
