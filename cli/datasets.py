"""``ranksuite datasets``: the public IR collections the project uses, where they come from, and a fetch recipe.

Fetching is for a user's own machine with internet access: ranksuite never downloads anything by itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from ranksuite.cli.common import console, err_console, friendly_errors, metrics_table, options, print_json

app = typer.Typer(
    help="Public IR collections: list the fetch recipes, or fetch one into a BEIR folder (needs internet access).",
    no_args_is_help=True,
)

DEFAULT_ROOT = Path("../shared/data/ir")
F = TypeVar("F", bound=Callable[..., Any])


def fetch_errors(fn: F) -> F:
    """A failed fetch (offline, bad checksum, odd archive) ends with one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ranksuite.datasets.fetch import FetchError

        try:
            return fn(*args, **kwargs)
        except FetchError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from exc

    return wrapper  # type: ignore[return-value]


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    root: Path = typer.Option(
        DEFAULT_ROOT,
        help="folder holding your copies as ROOT/<name> (this team's checkout: ../shared/data/ir)",
    ),
) -> None:
    """List the fetch recipes: name, kind, official source, licence, and whether ROOT/<name> holds a copy.

    Example:  ranksuite datasets list --root ../shared/data/ir   (JSON: ranksuite --json datasets list)
    """
    from ranksuite.datasets.fetch import RECIPES, is_present

    rows = []
    for recipe in RECIPES.values():
        row = recipe.as_dict()
        row["present"] = is_present(root, recipe.name)
        row["path"] = str(root / recipe.name)
        rows.append(row)
    if options(ctx).json:
        print_json(rows)
        return
    for r in rows:
        r["present"] = "yes" if r["present"] else "no"
        r["md5"] = "published" if r["md5"] else "unknown"
    console.print(
        metrics_table(
            f"IR collections (copies looked for in {root})",
            rows,
            ["name", "kind", "present", "licence", "md5", "url"],
        )
    )
    console.print(
        "Cards: datasets/cards/<name>.md. Fetch on a machine with internet access: ranksuite datasets fetch"
    )


@app.command("fetch")
@friendly_errors
@fetch_errors
def fetch_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="scifact | nfcorpus | cranfield | cisi"),
    to: Path = typer.Option(..., "--to", help="parent folder: the collection is written to TO/<name>/"),
    from_: Path | None = typer.Option(
        None,
        "--from",
        help="use this local archive (or extracted folder) instead of downloading",
    ),
    url: str | None = typer.Option(
        None, help="download from this URL instead of the official one (a mirror)"
    ),
    timeout: float = typer.Option(20, help="network timeout in seconds"),
    force: bool = typer.Option(False, help="replace an existing TO/<name>"),
    no_md5: bool = typer.Option(False, "--no-md5", help="do not check the archive against its published md5"),
) -> None:
    """Download a collection's official archive and write it as a BEIR folder TO/<name>/.

    Cranfield and CISI are converted from the raw Glasgow SMART files (see datasets/cards/<name>.md).

    Offline, it stops with the URL to download by hand: save that file in TO/ (or pass it with --from).

    Example:  ranksuite datasets fetch scifact --to ~/data/ir   (then: ranksuite ir evaluate --data ~/data/ir/scifact)
    """
    from ranksuite.datasets.fetch import fetch, get_recipe, is_present
    from ranksuite.shared.data import load_beir
    from ranksuite.shared.data.beir import available_splits

    recipe = get_recipe(name)
    opts = options(ctx)
    already = is_present(to, recipe.name) and not force
    if already:
        folder = to / recipe.name
    elif opts.json:
        folder = fetch(recipe, to, timeout, url=url, source=from_, check_md5=not no_md5, force=force)
    else:
        folder = _fetch_with_progress(recipe, to, timeout, url, from_, not no_md5, force)
    splits = {}
    corpus = None
    for split in available_splits(folder):
        coll = load_beir(folder, split, corpus=corpus)  # checks every record and every qrels id
        corpus = coll.corpus
        splits[split] = {"queries": coll.queries.height, "qrels": coll.qrels.height}
    summary = {
        "name": recipe.name,
        "path": str(folder),
        "already_present": already,
        "documents": 0 if corpus is None else corpus.height,
        "splits": splits,
        "licence": recipe.licence,
    }
    if opts.json:
        print_json(summary)
        return
    verb = "already present (use --force to fetch again):" if already else "wrote"
    parts = ", ".join(f"{s}: {v['queries']} queries / {v['qrels']} qrels" for s, v in splits.items())
    console.print(f"{verb} {folder}: {summary['documents']} documents; {parts}")
    console.print(f"licence: {recipe.licence}; card: datasets/cards/{recipe.name}.md")


def _fetch_with_progress(
    recipe: Any, to: Path, timeout: float, url: str | None, source: Path | None, check_md5: bool, force: bool
) -> Path:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from ranksuite.datasets.fetch import fetch

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(f"downloading {recipe.archive}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return fetch(
            recipe, to, timeout, url=url, source=source, check_md5=check_md5, force=force, progress=progress
        )
