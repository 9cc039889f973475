"""The analysts' local warehouse (`callscribe export` / `callscribe query`) on synthetic exports.

    .venv/bin/python bench/analytics_derive.py [--calls 1000 10000 50000] [--segments-per-call 10]
        [--rounds 3] [--files 4] [--workdir DIR]

For each size N: N call items and N x `--segments-per-call` transcript segments are written as
DynamoDB export data files (JSON lines, gzip, `{"Item": {...}}` in DynamoDB JSON, `--files` files per
table, as an export splits its data), seeded so every run writes the same bytes. Calls carry what
the summaries, pricing, evaluation and redaction tiers write (summary, cost, evaluations,
redaction_counts, recording, alignment, gaps, status_history maps); 10 % are <Dial>ed legs.

Each measurement is one fresh interpreter (`--child`) doing what callscribe_local/local_analytics.py
does after the download: `Warehouse.load_export` for both tables, `derive` (every flat table to
Parquet), `attach_flat`, then every saved query of shared/analytics/queries.py (the one-call
transcript query with a real call SID). Children run in rounds, the sizes' order rotating each
round. Per phase: median wall and process CPU (DuckDB's threads included, so CPU can exceed wall on
2 cores), rows/s (raw items loaded / load wall; flat rows written / derive wall) and the peak RSS of
the child (`resource.getrusage(RUSAGE_SELF).ru_maxrss`: the whole process, Python and DuckDB,
interpreter and imports included). File generation is not timed. This is the local path only:
in AWS the export workflow runs the same SELECTs as Athena UNLOADs, which this does not measure.
Each child also reports sizes for docs/costs.md ("The analysts' export"): the DynamoDB item size
of what it exported (computed while generating, by DynamoDB's sizing rules: what a full export
bills), the gzip files, the flat Parquet per table, the bytes Athena's derivation reads and, per
saved query, the compressed bytes of the columns it names; the summary gives them per 1,000 calls.
Prints one JSON line per child and a JSON summary.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAY = "2026-11-27"  # the export's dt
TOPICS = ["billing", "delivery", "refund", "technical issue", "cancellation", "upgrade", "address change"]
OUTCOMES = ["resolved", "escalated", "callback scheduled", "unresolved"]
SENTIMENTS = ["positive", "neutral", "negative"]
SPEECH = (
    "okay so I was calling about my order from last week it still has not arrived and the tracking "
    "page says it is out for delivery but nothing came can you check what is going on please thanks "
    "sure let me look that up for you one moment I can see the parcel is at the depot"
)
WORDS = SPEECH.split(" ")


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: float) -> dict[str, str]:
    return {"N": str(value)}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def call_item(rng: random.Random, index: int, now: datetime, parent: str | None) -> dict[str, Any]:
    sid = f"CA{index:032x}"
    started = now - timedelta(days=rng.randrange(30), seconds=rng.randrange(86400))
    answered = rng.random() < 0.85
    duration = rng.randrange(20, 900) if answered else 0
    ended = started + timedelta(seconds=duration + 6)
    status = "completed" if answered else rng.choice(["no-answer", "busy", "failed"])
    item: dict[str, Any] = {
        "call_sid": s(sid),
        "account_sid": s("AC" + "0" * 32),
        "direction": s("outbound-dial" if parent else rng.choice(["inbound", "inbound", "outbound-api"])),
        "from_number": s(f"+1415555{rng.randrange(10000):04d}"),
        "to_number": s(f"+1415555{rng.randrange(10000):04d}"),
        "caller_name": s("JANE DOE"),
        "from_city": s("OAKLAND"),
        "from_state": s("CA"),
        "from_country": s("US"),
        "route": s(rng.choice(["forward", "voicemail", "agent"])),
        "language": s("en"),
        "stt_model": s("nova-3"),
        "status": s(status),
        "status_rank": n(4),
        "status_history": {"M": {"ringing": s(iso(started)), status: s(iso(ended))}},
        "started_at": s(iso(started)),
        "ended_at": s(iso(ended)),
        "call_date": s(started.strftime("%Y-%m-%d")),
        "duration_seconds": n(duration),
        "created_at": s(iso(started)),
        "updated_at": s(iso(ended + timedelta(seconds=9))),
    }
    if parent:
        item["parent_call_sid"] = s(parent)
    if answered:
        item["answered_at"] = s(iso(started + timedelta(seconds=6)))
    if not answered or parent:
        return item
    coverage = 1.0 if rng.random() < 0.8 else round(rng.uniform(0.6, 0.99), 4)
    item.update(
        {
            "recording": {"M": {
                "sid": s(f"RE{index:032x}"), "status": s("completed"), "duration_seconds": n(duration),
                "channels": n(2), "source": s("DialVerb"), "track": s("both"),
                "started_at": s(started.strftime("%a, %d %b %Y %H:%M:%S +0000")),
            }},
            "stream_sid": s(f"MZ{index:032x}"),
            "transcript_status": s("completed" if rng.random() < 0.97 else "failed"),
            "segment_count": n(10),
            "transcript_completed_at": s(iso(ended)),
            "stream_started_at": s(iso(started + timedelta(seconds=6))),
            "transcript_source": s("live" if coverage == 1.0 else "live+recording"),
            "live_coverage": n(coverage),
            "filled_seconds": n(round((1 - coverage) * duration, 2)),
            "transcript_version": s(f"t-{index:016x}"),
            "alignment": {"M": {"offset_seconds": n(3.37), "method": s("words"), "matches": n(812)}},
            "reconciled_at": s(iso(ended + timedelta(seconds=40))),
            "gaps": {"L": [
                {"M": {"track": s("inbound"), "start": n(12.5), "end": n(18.0)}}
            ] if coverage < 1.0 else []},
            "live_audio_seconds": n(2 * duration),
            "redaction_counts": {"M": (
                {"CARD": n(1), "SSN": n(rng.randrange(2))} if rng.random() < 0.05 else {}
            )},
            "recording_redaction_counts": {"M": {"CARD": n(1)} if rng.random() < 0.01 else {}},
            "cost": {"M": {
                "total_usd": n(round(duration * 0.0006, 6)), "twilio_voice_usd": n(0.0085),
                "twilio_recording_usd": n(0.0025), "deepgram_live_usd": n(0.0126),
                "deepgram_prerecorded_usd": n(0.0061), "claude_usd": n(0.0034),
                "voice_minutes": n(duration // 60 + 1), "recording_minutes": n(duration // 60 + 1),
                "live_track_minutes": n(round(duration / 30, 4)),
                "prerecorded_minutes": n(round(duration / 30, 4)),
                "prices_as_of": s("2026-11-01"), "estimated_at": s(iso(ended + timedelta(seconds=50))),
            }},
            "evaluations_version": s("q-0123456789abcdef"),
            "evaluations": {"L": [
                {"M": {"id": s("greeted"), "question": s("Did the agent greet the caller?"),
                       "type": s("yes_no"), "answer": s("yes"), "answer_bool": {"BOOL": rng.random() < 0.9},
                       "evidence": {"L": [s("0000000100#outbound")]}, "answered_by": s("claude")}},
                {"M": {"id": s("resolved"), "question": s("Was the issue resolved?"),
                       "type": s("yes_no"), "answer": s("no"), "answer_bool": {"BOOL": rng.random() < 0.6},
                       "evidence": {"L": []}, "answered_by": s("claude")}},
                {"M": {"id": s("wait_minutes"), "question": s("How long did the caller say they waited?"),
                       "type": s("number"), "answer": s("5"), "answer_number": n(rng.randrange(30)),
                       "evidence": {"L": [s("0000003500#inbound")]}, "answered_by": s("claude")}},
            ]},
            "summary": {"M": {
                "summary": s("Caller asked about a late delivery; the agent checked the depot."),
                "topics": {"L": [s(t) for t in rng.sample(TOPICS, 2)]},
                "caller_intent": s("track a delivery"),
                "outcome": s(rng.choice(OUTCOMES)),
                "sentiment": s(rng.choice(SENTIMENTS)),
                "action_items": {"L": [{"M": {"owner": s("agent"), "description": s("call back Friday")}}]},
                "follow_up_needed": {"BOOL": rng.random() < 0.3},
                "language": s("en"), "model": s("claude-sonnet"), "prompt_version": s("p3"),
                "estimated_cost_usd": n(0.0034), "chunks": n(1), "segment_count": n(10),
                "no_conversation": {"BOOL": False}, "created_at": s(iso(ended + timedelta(seconds=45))),
                "transcript_version": s(f"t-{index:016x}"),
                "usage": {"M": {"requests": n(1), "input_tokens": n(1800), "output_tokens": n(300),
                                "cache_creation_input_tokens": n(0), "cache_read_input_tokens": n(1500)}},
                "redaction": {"M": {"enabled": {"BOOL": True}, "applied": {"BOOL": False},
                                    "counts": {"M": {}}}},
            }},
            "summary_status": s("completed"),
            "summary_created_at": s(iso(ended + timedelta(seconds=45))),
        }
    )  # fmt: skip
    return item


def segment_items(rng: random.Random, index: int, count: int, created: str) -> list[dict[str, Any]]:
    sid = f"CA{index:032x}"
    items = []
    start = 0.5
    for k in range(count):
        track = "inbound" if k % 2 == 0 else "outbound"
        length = rng.randrange(6, 25)
        text = " ".join(rng.choice(WORDS) for _ in range(length))
        end = round(start + length * 0.35, 2)
        item = {
            "call_sid": s(sid), "segment_key": s(f"{round(start * 1000):010d}#{track}"),
            "track": s(track), "speaker": s("caller" if track == "inbound" else "callee"),
            "text": s(text if rng.random() > 0.01 else "my card is [REDACTED CARD]"),
            "start": n(round(start, 2)), "end": n(end), "confidence": n(round(rng.uniform(0.8, 1), 3)),
            "language": s("en"), "source": s("deepgram:nova-3"), "created_at": s(created),
        }  # fmt: skip
        if rng.random() < 0.03:
            item["origin"] = s("recording")
            item["segment_key"] = s(item["segment_key"]["S"] + "#r")
        items.append(item)
        start = end + rng.uniform(0.2, 2.0)
    return items


def _value_size(typed: dict[str, Any]) -> int:
    """DynamoDB's size of one typed value (the documented rules: strings their UTF-8 bytes, numbers
    about one byte per two significant digits plus one, booleans and nulls one byte, a map or list
    3 bytes plus one per element plus its elements (a map's keys count as names))."""
    ((kind, value),) = typed.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        digits = value.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits.rstrip("0") or "0") + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in value.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in value)
    raise ValueError(kind)


def dynamodb_item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it (attribute names plus values), what a full export bills."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def generate(folder: Path, calls: int, per_call: int, files: int) -> dict[str, list[Path]]:
    """The export's data files (skipped when already there: same seed, same bytes)."""
    done = folder / "done.json"
    if done.exists() and "item_bytes" in json.loads(done.read_text()):
        listed = json.loads(done.read_text())
        return {table: [Path(p) for p in listed[table]] for table in ("calls", "transcripts")}
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(calls)
    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    paths = {t: [folder / t / f"{k}.json.gz" for k in range(files)] for t in ("calls", "transcripts")}
    for path in (*paths["calls"], *paths["transcripts"]):
        path.parent.mkdir(parents=True, exist_ok=True)
    outs = {t: [gzip.open(p, "wt", compresslevel=6) for p in ps] for t, ps in paths.items()}  # noqa: SIM115 - closed below
    item_bytes = {"calls": 0, "transcripts": 0}
    try:
        parent = None
        for index in range(calls):
            is_leg = parent is not None and rng.random() < 0.1
            item = call_item(rng, index, now, parent if is_leg else None)
            outs["calls"][index % files].write(json.dumps({"Item": item}) + "\n")
            item_bytes["calls"] += dynamodb_item_size(item)
            if not is_leg:
                parent = item["call_sid"]["S"]
                for segment in segment_items(rng, index, per_call, item["updated_at"]["S"]):
                    outs["transcripts"][index % files].write(json.dumps({"Item": segment}) + "\n")
                    item_bytes["transcripts"] += dynamodb_item_size(segment)
    finally:
        for handles in outs.values():
            for handle in handles:
                handle.close()
    done.write_text(
        json.dumps({**{t: [str(p) for p in ps] for t, ps in paths.items()}, "item_bytes": item_bytes})
    )
    return paths


# ---- one measurement, in a fresh interpreter --------------------------------------------------------


def child(folder: Path) -> None:
    from callscribe_local.warehouse import Warehouse
    from shared.analytics.queries import SAVED_QUERIES

    paths = json.loads((folder / "done.json").read_text())
    out: dict[str, Any] = {"folder": folder.name}

    def phase() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def done(name: str, start: tuple[float, float]) -> None:
        out[name] = {
            "wall_s": round(time.perf_counter() - start[0], 4),
            "cpu_s": round(time.process_time() - start[1], 4),
        }

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    warehouse = Warehouse()
    with tempfile.TemporaryDirectory(prefix="bench-flat-") as flat:
        rows = {}
        for table in ("calls", "transcripts"):
            start = phase()
            rows[table] = warehouse.load_export(table, DAY, [Path(p) for p in paths[table]])
            done(f"load_{table}", start)
        calls_load, segments_load = out["load_calls"], out["load_transcripts"]
        out["load"] = {k: round(calls_load[k] + segments_load[k], 4) for k in calls_load}
        rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = phase()
        written = warehouse.derive(DAY, Path(flat))
        done("derive", start)
        flat_rows = {
            name: warehouse.db.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]  # noqa: S608
            for name, path in written.items()
        }
        flat_bytes = sum(path.stat().st_size for path in written.values())
        warehouse.attach_flat(Path(flat))
        warehouse.attach_current({name: path.parent for name, path in written.items()})
        sid = warehouse.query("SELECT call_sid FROM call_facts WHERE NOT is_leg LIMIT 1")[0]["call_sid"]
        column_bytes = {name: parquet_column_bytes(warehouse, path) for name, path in written.items()}
        file_bytes = {name: path.stat().st_size for name, path in written.items()}
        start = phase()
        per_query = {}
        answers = {}
        scans = {}
        for saved in SAVED_QUERIES:
            scans[saved.name] = scanned_bytes(saved.sql, column_bytes)
            t0 = time.perf_counter()
            result = warehouse.query(saved.sql, saved.bind({"call_sid": sid if saved.parameters else None}))
            per_query[saved.name] = round((time.perf_counter() - t0) * 1000, 1)
            answers[saved.name] = len(result)
        done("queries", start)
    warehouse.close()
    raw_bytes = sum(Path(p).stat().st_size for t in ("calls", "transcripts") for p in paths[t])
    raw_table_bytes = {t: sum(Path(p).stat().st_size for p in paths[t]) for t in ("calls", "transcripts")}
    out.update(
        {
            "sizes_bytes": {
                "dynamodb_items": paths["item_bytes"],
                "export_gzip": raw_table_bytes,
                "flat_parquet": {name: sum(column_bytes[name].values()) for name in column_bytes},
                "flat_parquet_files": file_bytes,
                # each UNLOAD reads its raw table's whole day: call_facts and evaluation_answers the
                # calls export, transcript_lines the transcripts export
                "derive_scan": 2 * raw_table_bytes["calls"] + raw_table_bytes["transcripts"],
                "query_scan": scans,
            },
            "raw_rows": rows,
            "raw_gzip_mib": round(raw_bytes / 2**20, 2),
            "flat_rows": flat_rows,
            "flat_parquet_mib": round(flat_bytes / 2**20, 2),
            "query_ms": per_query,
            "query_rows": answers,
            "rss_after_imports_mib": round(rss_start / 1024, 1),
            "peak_rss_after_load_mib": round(rss_load / 1024, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "duckdb_threads": warehouse_threads(),
        }
    )
    print(json.dumps(out), flush=True)


def warehouse_threads() -> int:
    import duckdb

    row = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()
    return int(row[0]) if row else 0


def parquet_column_bytes(warehouse: Any, path: Path) -> dict[str, int]:
    """Compressed bytes per top-level column of a Parquet file (what Athena reads for a column)."""
    rows = warehouse.db.execute(
        "SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata(?) GROUP BY 1", [str(path)]
    ).fetchall()
    sizes: dict[str, int] = {}
    for column_path, size in rows:
        top = str(column_path).split(",")[0].strip()
        sizes[top] = sizes.get(top, 0) + int(size)
    return sizes


def scanned_bytes(sql: str, column_bytes: dict[str, dict[str, int]]) -> int:
    """What Athena would read for `sql` (before its 10 MB minimum): the compressed bytes of every
    column the query names, in every flat table it reads (`_current` reads one run's files)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="trino")
    named = {column.name for column in tree.find_all(exp.Column)}
    tables = {table.name.removesuffix("_current") for table in tree.find_all(exp.Table)}
    return sum(
        size
        for table in tables & set(column_bytes)
        for column, size in column_bytes[table].items()
        if column in named
    )


# ---- driver -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--segments-per-call", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=4, help="data files per table")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated exports here")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return

    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = args.workdir or Path(tmp)
        folders = {}
        for calls in args.calls:
            t0 = time.perf_counter()
            folder = root / f"n{calls}-s{args.segments_per_call}"
            generate(folder, calls, args.segments_per_call, args.files)
            folders[calls] = folder
            print(json.dumps({"generated": calls, "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
        results: dict[int, list[dict[str, Any]]] = {calls: [] for calls in args.calls}
        loads = [round(os.getloadavg()[0], 2)]
        for round_no in range(args.rounds):
            shift = round_no % len(args.calls)
            for calls in args.calls[shift:] + args.calls[:shift]:
                done = subprocess.run(
                    [sys.executable, __file__, "--child", str(folders[calls])],
                    check=True, capture_output=True, text=True, cwd=ROOT,
                )  # fmt: skip
                result = json.loads(done.stdout.strip().splitlines()[-1])
                result["round"], result["calls"] = round_no, calls
                result["load_avg"] = round(os.getloadavg()[0], 2)
                loads.append(result["load_avg"])
                results[calls].append(result)
                print(json.dumps(result), flush=True)
    summary = {}
    for calls, runs in results.items():
        raw = sum(runs[0]["raw_rows"].values())
        flat = sum(runs[0]["flat_rows"].values())

        def med(phase: str, key: str, runs: list[dict[str, Any]] = runs) -> float:
            return round(statistics.median(r[phase][key] for r in runs), 3)

        per_1000 = 1000 / calls

        def kib(value: float, per_1000: float = per_1000) -> float:
            return round(value * per_1000 / 1024, 1)

        sizes = runs[0]["sizes_bytes"]
        summary[calls] = {
            "per_1000_calls_kib": {
                "dynamodb_items": {t: kib(v) for t, v in sizes["dynamodb_items"].items()},
                "export_gzip": {t: kib(v) for t, v in sizes["export_gzip"].items()},
                "flat_parquet": {t: kib(v) for t, v in sizes["flat_parquet_files"].items()},
                "derive_scan": kib(sizes["derive_scan"]),
                "query_scan": {q: kib(v) for q, v in sizes["query_scan"].items()},
            },
            "raw_rows": runs[0]["raw_rows"],
            "raw_gzip_mib": runs[0]["raw_gzip_mib"],
            "flat_rows": runs[0]["flat_rows"],
            "load_wall_cpu_s": [med("load", "wall_s"), med("load", "cpu_s")],
            "load_rows_per_s": round(raw / med("load", "wall_s")),
            "load_rows_per_cpu_s": round(raw / med("load", "cpu_s")),
            "load_calls_wall_cpu_s": [med("load_calls", "wall_s"), med("load_calls", "cpu_s")],
            "load_segments_wall_cpu_s": [
                med("load_transcripts", "wall_s"),
                med("load_transcripts", "cpu_s"),
            ],
            "derive_wall_cpu_s": [med("derive", "wall_s"), med("derive", "cpu_s")],
            "derive_flat_rows_per_s": round(flat / med("derive", "wall_s")),
            "derive_flat_rows_per_cpu_s": round(flat / med("derive", "cpu_s")),
            "queries_wall_cpu_s": [med("queries", "wall_s"), med("queries", "cpu_s")],
            "slowest_query_ms": max(
                (statistics.median(r["query_ms"][q] for r in runs), q) for q in runs[0]["query_ms"]
            ),
            "total_wall_s": round(sum(med(p, "wall_s") for p in ("load", "derive", "queries")), 2),
            "peak_rss_mib_max": max(r["peak_rss_mib"] for r in runs),
            "peak_rss_after_load_mib_max": max(r["peak_rss_after_load_mib"] for r in runs),
            "rss_after_imports_mib": runs[0]["rss_after_imports_mib"],
        }
    print(
        json.dumps(
            {"rounds": args.rounds, "summary": summary, "load_avg_range": [min(loads), max(loads)]}, indent=2
        )
    )


if __name__ == "__main__":
    main()
