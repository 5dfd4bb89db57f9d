"""``ranksuite models``: which offline backbones are installed and where their weights come from."""

from __future__ import annotations

import typer

from ranksuite.cli.common import console, metrics_table, options, print_json

app = typer.Typer(help="Offline backbones (no model hub is ever contacted).", no_args_is_help=True)


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List the offline model names: installed or not, package size, source, and how to install.

    Example:  ranksuite models list --json   (global --json goes before the sub-command: ranksuite --json models list)
    """
    from ranksuite.shared.models.registry import list_models

    rows = list_models()
    if options(ctx).json:
        print_json(rows)
        return
    for r in rows:
        r["installed"] = "yes" if r["installed"] else "no"
        r["cached"] = {True: "yes", False: "not yet", None: "-"}[r["cached"]]
        r["size_mb"] = f"{r['size_mb']:.0f}"
        pkgs = str(r["source"]).removeprefix("PyPI: ").split(", ")
        r["source"] = pkgs[0] if len(pkgs) == 1 else f"{pkgs[0]} (+{len(pkgs) - 1} parts/deps)"
    console.print(
        metrics_table("offline models", rows, ["name", "installed", "size_mb", "cached", "model", "source"])
    )
    console.print("A local model folder works wherever a name does (e.g. --backbone ./my-model).")
