"""A small JSON Schema checker for the keywords our published schemas use (no dependency)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rongpay.compliance.reports import SCHEMAS

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def load(name: str) -> dict[str, Any]:
    return json.loads((Path(SCHEMAS) / name).read_text(encoding="utf-8"))


def errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> list[str]:
    if "$ref" in schema:
        ref = schema["$ref"].removeprefix("#/$defs/")
        return errors(value, root["$defs"][ref], root, path)
    out: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        ok = any(
            isinstance(value, _TYPES[t])
            and not (t in ("integer", "number") and value is True)
            and not (t == "integer" and isinstance(value, bool))
            for t in allowed
        )
        if not ok:
            return [f"{path}: {value!r} is not {allowed}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and isinstance(value, int | float) and value < schema["minimum"]:
        out.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        out += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                out += errors(value[key], sub, root, f"{path}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, v in value.items():
                if key not in schema.get("properties", {}):
                    out += errors(v, extra, root, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += errors(item, schema["items"], root, f"{path}[{i}]")
    return out


def validate(value: Any, name: str) -> list[str]:
    schema = load(name)
    return errors(value, schema, schema)
