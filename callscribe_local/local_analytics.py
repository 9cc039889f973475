"""The export workflow's second half on the local stack: flat tables from a raw export, in S3.

AWS runs the derivation in Athena (an UNLOAD per table, infra/components/exports.py); here DuckDB
runs the same SQL (callscribe_local/warehouse.py) on the export files moto wrote to the local S3,
and the Parquet goes back to the local S3 in the layout the Glue tables point at:
`analytics/v<schema>/<table>/dt=<day>/<run>/part-0.parquet`. Once every table of a run is uploaded,
`analytics/v<schema>/_current.json` is pointed at that run's folders (never at an older run's), as
the workflow points the Glue `<table>_current` tables: a run that fails half-way moves nothing.
`latest_warehouse` is the analyst's side: every day's newest run as the partitioned tables, and the
run `_current.json` names as the `_current` ones.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callscribe_local.warehouse import Warehouse, WarehouseError
from shared.analytics.schema import SCHEMA_VERSION, TABLES

ANALYTICS_PREFIX = f"analytics/v{SCHEMA_VERSION}"
CURRENT_KEY = f"{ANALYTICS_PREFIX}/_current.json"


@dataclass(frozen=True)
class TableExport:
    table: str  # the DynamoDB table's name
    status: str  # COMPLETED | FAILED | IN_PROGRESS (gave up waiting)
    items: int | None
    prefix: str
    keys: list[str]  # every object the export wrote

    @property
    def completed(self) -> bool:
        return self.status == "COMPLETED"


@dataclass(frozen=True)
class Run:
    """One export run: its day (the partition) and its folder name (a UTC timestamp)."""

    day: str
    stamp: str

    @classmethod
    def now(cls) -> Run:
        return cls.at(datetime.now(UTC))

    @classmethod
    def at(cls, moment: datetime) -> Run:
        """The run started at `moment` (UTC): the workflow's partition is its start's day."""
        moment = moment.astimezone(UTC)
        return cls(moment.strftime("%Y-%m-%d"), moment.strftime("%Y%m%dT%H%M%SZ"))


def export_table(dynamodb: Any, s3: Any, table: str, bucket: str, prefix: str, run: Run) -> TableExport:
    """DynamoDB's point-in-time export of `table` to `s3://bucket/<prefix>/<table>/dt=<day>/<stamp>/`,
    waited for (moto finishes in a moment; AWS takes minutes, which the workflow waits out)."""
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    # Exports read the point-in-time-recovery backup, as in AWS (the CDK app enables PITR).
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    folder = f"{prefix.strip('/')}/{table}/dt={run.day}/{run.stamp}"
    export = dynamodb.export_table_to_point_in_time(
        TableArn=arn, S3Bucket=bucket, S3Prefix=folder, ExportFormat="DYNAMODB_JSON"
    )["ExportDescription"]
    description = _wait_for_export(dynamodb, export["ExportArn"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents", [])]
    items = description.get("ItemCount")
    return TableExport(table, str(description.get("ExportStatus")), items, folder, keys)


def _wait_for_export(dynamodb: Any, export_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = dynamodb.describe_export(ExportArn=export_arn)["ExportDescription"]
        if description.get("ExportStatus") != "IN_PROGRESS" or time.monotonic() >= deadline:
            return description
        time.sleep(0.5)


def flat_keys(s3: Any, bucket: str, run: Run) -> list[str]:
    """The Parquet objects `derive_from_export` wrote for `run`."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{ANALYTICS_PREFIX}/").get("Contents", [])
    return [o["Key"] for o in listed if f"/dt={run.day}/{run.stamp}/" in o["Key"]]


def derive_from_export(
    s3: Any, bucket: str, raw_keys: dict[str, list[str]], day: str, run: str, workdir: Path
) -> dict[str, int]:
    """Load the raw export files (`raw_keys`: raw table -> S3 keys), derive every flat table for
    `day`, upload the Parquet under this `run`'s folder, then point the `_current` tables at it;
    returns rows per flat table."""
    warehouse = Warehouse()
    try:
        for table, keys in raw_keys.items():
            files = []
            for index, key in enumerate(k for k in keys if _is_data_file(k)):
                local = workdir / "raw" / table / f"{index}.gz"
                local.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(local))
                files.append(local)
            warehouse.load_export(table, day, files)
        written = warehouse.derive(day, workdir / "flat")
        rows = {}
        for name, path in written.items():
            s3.upload_file(str(path), bucket, f"{_folder(name, day, run)}{path.name}")
            counted = warehouse.db.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()  # noqa: S608
            rows[name] = int(counted[0]) if counted else 0
        _point_current_at(s3, bucket, day, run)
        return rows
    finally:
        warehouse.close()


def _folder(table: str, day: str, run: str) -> str:
    return f"{ANALYTICS_PREFIX}/{table}/dt={day}/{run}/"


def current_run(s3: Any, bucket: str) -> dict[str, Any] | None:
    """What the `_current` tables point at: `{"dt", "run", "locations": {table: prefix}}`, or None
    before the first complete run."""
    try:
        body = s3.get_object(Bucket=bucket, Key=CURRENT_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    current: dict[str, Any] = json.loads(body)
    return current


def _point_current_at(s3: Any, bucket: str, day: str, run: str) -> None:
    """Point the `_current` tables at this run, unless a newer run already did (two runs at once)."""
    current = current_run(s3, bucket)
    if current is not None and current["run"] > run:
        return
    locations = {name: _folder(name, day, run) for name in TABLES}
    pointer = {"dt": day, "run": run, "locations": locations}
    s3.put_object(Bucket=bucket, Key=CURRENT_KEY, Body=json.dumps(pointer).encode())


def _is_data_file(key: str) -> bool:
    # moto writes `<uuid>.gz` data files; AWS writes `data/<id>.json.gz` beside manifests
    return key.endswith(".gz")


def latest_warehouse(s3: Any, bucket: str, workdir: Path) -> Warehouse:
    """A warehouse over the newest run of every day's flat tables on the local S3."""
    paginator = s3.get_paginator("list_objects_v2")
    newest: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{ANALYTICS_PREFIX}/"):
        for entry in page.get("Contents", []):
            parts = entry["Key"].split("/")  # analytics, v1, table, dt=…, run, file
            if len(parts) != 6 or parts[2] not in TABLES:
                continue
            slot = (parts[2], parts[3])
            run, keys = newest.get(slot, ("", []))
            if parts[4] > run:
                newest[slot] = (parts[4], [entry["Key"]])
            elif parts[4] == run:
                keys.append(entry["Key"])
    for (table, day), (_, keys) in newest.items():
        for key in keys:
            target = workdir / table / day / Path(key).name
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
    current = current_run(s3, bucket)
    if current is None:
        raise WarehouseError(f"no complete export in s3://{bucket}/{ANALYTICS_PREFIX}/ yet")
    folders = {}
    for table, prefix in current["locations"].items():
        folder = workdir / "_current" / table
        folder.mkdir(parents=True, exist_ok=True)
        for entry in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            s3.download_file(bucket, entry["Key"], str(folder / Path(entry["Key"]).name))
        folders[table] = folder
    warehouse = Warehouse()
    warehouse.attach_flat(workdir)
    warehouse.attach_current(folders)
    return warehouse
