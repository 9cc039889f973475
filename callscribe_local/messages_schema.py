"""The JSON-schema subset structured outputs use, for the Anthropic stand-in: check an answer
against a request's `output_config.format` schema, and build an answer from facts by property name.

Only what the product's request schemas (pydantic's JSON schema of the summary models) contain:
`$ref`/`$defs`, `anyOf`/`oneOf`, `enum`, `type` (one or a list), `properties`, `required`,
`additionalProperties: false`, `items`. A check that does not know a keyword ignores it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def validate(
    instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, at: str = "$"
) -> list[str]:
    """Problems of `instance` against the JSON-schema subset structured outputs use (empty: valid)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return validate(instance, root.get("$defs", {}).get(name, {}), root, at)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [validate(instance, option, root, at) for option in schema[key]]
            return [] if any(not o for o in options) else [f"{at}: matches none of {key}"]
    problems: list[str] = []
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{at}: {instance!r} not in {schema['enum']}")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_is_type(instance, k) for k in kinds):
        return [*problems, f"{at}: expected {kind}, got {type(instance).__name__}"]
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in instance:
                problems.append(f"{at}.{name}: required")
        for name, value in instance.items():
            if name in properties:
                problems.extend(validate(value, properties[name], root, f"{at}.{name}"))
            elif schema.get("additionalProperties") is False:
                problems.append(f"{at}.{name}: not allowed (additionalProperties false)")
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(instance):
            problems.extend(validate(item, schema["items"], root, f"{at}[{index}]"))
    return problems


def _is_type(value: Any, kind: str) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return checks.get(kind, lambda v: True)(value)


def fill(schema: dict[str, Any], facts: dict[str, Any], root: dict[str, Any]) -> Any:
    """An instance of `schema` built from `facts` by property name; unknown fields get neutral values."""
    if "$ref" in schema:
        return fill(root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1], {}), facts, root)
    if "anyOf" in schema:
        return fill(schema["anyOf"][0], facts, root)
    kind = schema.get("type")
    if kind == "object":
        return {
            name: _value(prop, facts.get(name), root) for name, prop in schema.get("properties", {}).items()
        }
    return _value(schema, None, root)


def _value(schema: dict[str, Any], fact: Any, root: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _value(root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1], {}), fact, root)
    if "anyOf" in schema:
        if fact is None and any(option.get("type") == "null" for option in schema["anyOf"]):
            return None  # "cannot tell" stays null, never a false or a zero
        return _value(schema["anyOf"][0], fact, root)
    if "enum" in schema:
        options = schema["enum"]
        if fact in options:
            return fact
        return "other" if "other" in options else "unknown" if "unknown" in options else options[0]
    kind = schema.get("type")
    if kind == "string":
        return str(fact) if fact is not None else ""
    if kind == "boolean":
        return bool(fact)
    if kind in ("integer", "number"):
        return fact if isinstance(fact, int | float) and not isinstance(fact, bool) else 0
    if kind == "array":
        items = schema.get("items", {})
        return [
            _value(items, item, root) if not isinstance(item, dict) else fill(items, item, root)
            for item in (fact if isinstance(fact, list) else [])
        ]
    if kind == "object":
        return fill(schema, fact if isinstance(fact, dict) else {}, root)
    return fact
