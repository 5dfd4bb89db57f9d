"""What every command shares: global options, error reporting, tables and JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ranksuite.shared.data.errors import DataError
from ranksuite.shared.models.registry import OfflineModelError

console = Console(stderr=False)
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    """Set once by the root callback, passed down explicitly through the Typer context (no global singleton)."""

    device: str | None = None
    seed: int = 42
    json: bool = False
    verbose: bool = False


def options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def friendly_errors(fn: F) -> F:
    """Bad input or a missing model ends the command with one clear line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (DataError, OfflineModelError, FileNotFoundError, ValueError) as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from exc

    return wrapper  # type: ignore[return-value]


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def metrics_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="left" if col in ("model", "name", "dataset", "run") else "right")
    for row in rows:
        table.add_row(
            *[f"{row[c]:.4f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns]
        )
    return table
