"""Line-numbered JSONL reading (plain or gzip), the base of every JSONL reader in ranksuite.

polars' own ``read_ndjson`` is faster but cannot say *which* line is broken; the files we read (collections of
thousands of records, candidate pools) are small enough that a line-numbered reader costs little.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ranksuite.shared.data.errors import DataError


def open_text(path: str | Path, mode: str = "rt") -> IO[str]:
    """Open a text file, transparently gunzipping ``*.gz``."""
    p = Path(path)
    if p.suffix == ".gz":
        return gzip.open(p, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(p, mode, encoding="utf-8")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each non-blank line; a line that is not a JSON object raises DataError."""
    try:
        fh = open_text(path)
    except FileNotFoundError as exc:
        raise DataError(path, "file not found") from exc
    with fh:
        for i, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"not valid JSON ({exc.msg} at column {exc.colno})", line=i) from exc
            if not isinstance(rec, dict):
                raise DataError(path, f"expected a JSON object, got {type(rec).__name__}", line=i)
            yield i, rec


def require_str(
    path: str | Path, line: int, rec: dict[str, Any], field: str, *, allow_empty: bool = False
) -> str:
    """Return ``rec[field]`` as a string, or raise a DataError naming file, line and field."""
    if field not in rec or rec[field] is None:
        raise DataError(path, "missing", line=line, field=field)
    value = rec[field]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DataError(path, f"expected a string, got {type(value).__name__}", line=line, field=field)
    if not allow_empty and not value.strip():
        raise DataError(path, "empty", line=line, field=field)
    return value


def write_jsonl(records: list[dict[str, Any]], path: str | Path) -> None:
    """Write records as JSONL atomically (temp file + rename), so a killed run never leaves half a file."""
    from ranksuite.shared.data.atomic import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
