"""The analysts' warehouse on a laptop: DuckDB runs the same SQL Athena runs.

Raw DynamoDB exports are loaded as the Glue tables `calls` and `transcripts` (column types from
shared/analytics/raw_schema.py), the flat tables derived with the Trino SELECTs of
shared/analytics/schema.py and written as Parquet in the layout S3 holds, `<table>_current` a view
over one run's folder, and the saved queries run on them, transpiled from Trino by sqlglot.
Must keep: a query is checked to parse as Trino before it is transpiled; the rewrites that give
Trino's answers where DuckDB differs (docs/analytics.md lists the differences). Used by
`callscribe export` / `callscribe query` and the tests; production never imports it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from shared.analytics.raw_schema import item_type
from shared.analytics.schema import TABLES, FlatTable
from shared.dal.tables import CallRecord, TranscriptSegment

RAW_MODELS: dict[str, type[CallRecord] | type[TranscriptSegment]] = {
    "calls": CallRecord,
    "transcripts": TranscriptSegment,
}
# DynamoDB JSON's type keys, as the export writes them
_TYPE_LETTERS = {"s": "S", "n": "N", "b": "B", "bool": "BOOL", "m": "M", "l": "L", "ss": "SS", "ns": "NS"}
_SCALARS = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "int": "INTEGER",
}

# sqlglot warns that Trino's reduce() output function has no DuckDB argument; ours is the identity.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


class WarehouseError(Exception):
    pass


def duckdb_type(glue_type: str, *, raw: bool = True) -> str:
    """A Glue (Hive) type as DuckDB spells it; `raw`: struct keys named like DynamoDB's type letters
    are upper-cased, as they are in the export files."""
    parsed, rest = _parse(glue_type.replace(" ", ""), raw)
    if rest:
        raise WarehouseError(f"trailing text in type: {rest!r}")
    return parsed


def _parse(text: str, raw: bool) -> tuple[str, str]:
    for scalar, spelled in _SCALARS.items():
        if text.startswith(scalar) and not text[len(scalar) : len(scalar) + 1].isalnum():
            return spelled, text[len(scalar) :]
    if text.startswith("array<"):
        inner, rest = _parse(text[6:], raw)
        return f"{inner}[]", _close(rest)
    if text.startswith("map<"):
        key, rest = _parse(text[4:], raw)
        if not rest.startswith(","):
            raise WarehouseError(f"map without a value type: {text!r}")
        value, rest = _parse(rest[1:], raw)
        return f"MAP({key}, {value})", _close(rest)
    if text.startswith("struct<"):
        rest, fields = text[7:], []
        while True:
            match = re.match(r"([A-Za-z_][A-Za-z0-9_]*):", rest)
            if match is None:
                raise WarehouseError(f"bad struct field at {rest[:40]!r}")
            name = match.group(1)
            field_type, rest = _parse(rest[match.end() :], raw)
            name = _TYPE_LETTERS.get(name, name) if raw else name
            fields.append(f'"{name}" {field_type}')
            if rest.startswith(","):
                rest = rest[1:]
                continue
            return f"STRUCT({', '.join(fields)})", _close(rest)
    raise WarehouseError(f"unknown type at {text[:40]!r}")


def _close(rest: str) -> str:
    if not rest.startswith(">"):
        raise WarehouseError(f"expected '>' at {rest[:40]!r}")
    return rest[1:]


def to_duckdb(sql: str) -> str:
    """Trino (Athena engine v3) SQL as DuckDB runs it; refuses SQL that Trino would not parse."""
    try:
        parsed = sqlglot.parse(sql, read="trino")
    except sqlglot.errors.ParseError as exc:
        raise WarehouseError(f"not valid Trino SQL: {exc}") from exc
    if len(parsed) != 1 or parsed[0] is None:
        raise WarehouseError("one statement at a time")
    tree = parsed[0].transform(_trino_count_if)
    return tree.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.IGNORE)


def _trino_count_if(node: exp.Expression) -> exp.Expression:
    """Trino's count_if counts 0 over a group of NULLs; DuckDB's answers NULL. Coalescing the
    condition keeps Trino's answer (found by a saved query's test: a question never answered yes)."""
    if isinstance(node, exp.CountIf):
        return exp.CountIf(this=exp.Coalesce(this=node.this, expressions=[exp.false()]))
    return node


class Warehouse:
    """One in-memory DuckDB holding raw exports and flat tables, queried with Trino SQL."""

    def __init__(self) -> None:
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")  # Athena's timestamps are UTC; DuckDB's default is local
        for name, model in RAW_MODELS.items():
            self.db.execute(f"CREATE TABLE {name} (item {duckdb_type(item_type(model))}, dt VARCHAR)")

    def close(self) -> None:
        self.db.close()

    def load_export(self, table: str, day: str, files: Iterable[Path]) -> int:
        """Add one day's export of `table` (its gzip JSON-lines data files); returns the rows added."""
        paths = [str(path) for path in files]
        if table not in RAW_MODELS:
            raise WarehouseError(f"unknown raw table {table!r}")
        if not paths:
            return 0
        spelled = duckdb_type(item_type(RAW_MODELS[table])).replace("'", "''")
        before = self._count(table)
        self.db.execute(
            f"INSERT INTO {table} SELECT Item, ? FROM read_json(?, format = 'newline_delimited', "
            f"compression = 'gzip', columns = {{'Item': '{spelled}'}})",
            [day, paths],
        )
        return self._count(table) - before

    def derive(self, day: str, out: Path) -> dict[str, Path]:
        """Write each flat table's rows for `day` as Parquet under `out/<table>/dt=<day>/`."""
        written = {}
        for table in TABLES.values():
            folder = out / table.name / f"dt={day}"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / "part-0.parquet"
            self.db.execute(f"COPY ({to_duckdb(table.select_sql(day))}) TO '{target}' (FORMAT parquet)")
            written[table.name] = target
        return written

    def attach_flat(self, root: Path, tables: Sequence[FlatTable] | None = None) -> None:
        """Make the flat tables under `root` queryable by name, `dt` a string as in Glue."""
        for table in tables or TABLES.values():
            # `dt=<day>/part.parquet`, or S3's layout with a folder per run: `dt=<day>/<run>/…`
            folder = root / table.name
            files = sorted([*folder.glob("dt=*/*.parquet"), *folder.glob("dt=*/*/*.parquet")])
            if not files:
                raise WarehouseError(f"no Parquet files for {table.name} under {root}")
            self.db.execute(
                f"CREATE OR REPLACE VIEW {table.name} AS SELECT * FROM read_parquet({_listed(files)}, "
                "hive_partitioning = true, hive_types = {'dt': VARCHAR})"
            )

    def attach_current(self, folders: Mapping[str, Path]) -> None:
        """Make `<table>_current` queryable: the Parquet of one run's folder per flat table (what the
        Glue table of that name points at), no `dt` column, each record once."""
        for name, folder in folders.items():
            table = TABLES[name]
            files = sorted(folder.glob("*.parquet"))
            if not files:
                raise WarehouseError(f"no Parquet files for {table.current} in {folder}")
            self.db.execute(
                f"CREATE OR REPLACE VIEW {table.current} AS SELECT * FROM read_parquet({_listed(files)}, "
                "hive_partitioning = false)"
            )

    def query(self, trino_sql: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run Trino SQL (transpiled), its `?`s bound to `parameters` in order; rows as dicts keyed
        by column name. WarehouseError when DuckDB refuses it (an unknown column, a type error)."""
        try:
            cursor = self.db.execute(to_duckdb(trino_sql), list(parameters))
        except duckdb.Error as exc:
            raise WarehouseError(str(exc)) from exc
        names = [column[0] for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _count(self, table: str) -> int:
        row = self.db.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0


def _listed(files: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(path).replace("'", "''") + "'" for path in files) + "]"
