"""One JSON object per line, checked as strictly as pyarrow (HF datasets) reads it, so a file that summae accepts
record by record (summae.io) is one that datasets can load for training (summae.loading), and the reverse."""

from __future__ import annotations

import json
import math


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) < len(keys):
        raise ValueError("duplicate key")  # json.loads keeps the last one, pyarrow refuses the line
    return dict(pairs)


def _number(text: str) -> int | float:
    if math.isinf(float(text)):  # 1e999: json.loads says inf, pyarrow refuses the line
        raise ValueError("number too large")
    return float(text) if any(c in text for c in ".eE") else int(text)


def _json_type(value) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def parse_record(line: str, field: str, *, require_field: bool) -> dict:
    """The JSON object on one line; ValueError(reason) if it is not one, or if its `field` is not text
    (absent or null is fine unless require_field)."""
    try:
        record = json.loads(line, object_pairs_hook=_unique_keys, parse_float=_number, parse_int=_number)
        json.dumps(record, ensure_ascii=False).encode("utf-8")  # a lone surrogate ("\ud800") is not text
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg}, column {e.colno})") from None
    except (ValueError, RecursionError) as e:  # UnicodeEncodeError, _unique_keys, _number, deep nesting
        reason = ("nested too deeply" if isinstance(e, RecursionError) else
                  "a lone surrogate escape" if isinstance(e, UnicodeError) else str(e))
        raise ValueError(f"not valid JSON ({reason})") from None
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object (got {_json_type(record)})")
    value = record.get(field)
    if field not in record and require_field:
        raise ValueError(f"no field {field!r} (fields: {', '.join(record) or 'none'})")
    if not isinstance(value, str) and (require_field or value is not None):
        raise ValueError(f"field {field!r} is not text (got {_json_type(value)})")
    return record
