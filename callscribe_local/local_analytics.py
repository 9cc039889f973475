"""The export workflow's second half on the local stack: flat tables from a raw export, in S3.

AWS runs the derivation in Athena (an UNLOAD per table, infra/components/exports.py); here DuckDB
runs the same SQL (callscribe_local/warehouse.py) on the export files moto wrote to the local S3,
and the Parquet goes back to the local S3 in the layout the Glue tables point at:
`analytics/v<schema>/<table>/dt=<day>/<run>/part-0.parquet`. `latest_warehouse` is the analyst's
side: every day's newest run, queryable by table name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callscribe_local.warehouse import Warehouse
from shared.analytics.schema import SCHEMA_VERSION, TABLES

ANALYTICS_PREFIX = f"analytics/v{SCHEMA_VERSION}"


def derive_from_export(
    s3: Any, bucket: str, raw_keys: dict[str, list[str]], day: str, run: str, workdir: Path
) -> dict[str, int]:
    """Load the raw export files (`raw_keys`: raw table -> S3 keys), derive every flat table for
    `day`, upload the Parquet under this `run`'s folder; returns rows per flat table."""
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
            s3.upload_file(str(path), bucket, f"{ANALYTICS_PREFIX}/{name}/dt={day}/{run}/{path.name}")
            counted = warehouse.db.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()  # noqa: S608
            rows[name] = int(counted[0]) if counted else 0
        return rows
    finally:
        warehouse.close()


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
    warehouse = Warehouse()
    warehouse.attach_flat(workdir)
    return warehouse
