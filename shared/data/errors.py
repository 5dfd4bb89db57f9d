"""One error type for bad input, so every reader reports the same way: file, line (or record), field, problem."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data. The message names the file, the line or record, and the field, so a user can fix it.

    The CLI turns it into a one-line message and exit code 2 rather than a traceback.
    """

    def __init__(
        self, path: str | Path, problem: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = self.path if line is None else f"{self.path}, line {line}"
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{problem}")
