"""The ``ranksuite`` command: global options, then one sub-app per area (``ir``, ``models``, each domain)."""

from __future__ import annotations

import typer

from ranksuite import __version__
from ranksuite.cli import datasets, ir, models
from ranksuite.cli import demo as demo_module
from ranksuite.cli.common import GlobalOptions
from ranksuite.domains.code import cli as code_cli
from ranksuite.domains.duqgen import cli as duqgen_cli
from ranksuite.domains.ecommerce import cli as ecommerce_cli
from ranksuite.domains.screening import cli as screening_cli
from ranksuite.domains.sql import cli as sql_cli

app = typer.Typer(
    name="ranksuite",
    help=(
        "Domain-specific neural rankers that run offline.\n\n"
        "Start with `ranksuite demo`, then `ranksuite ir evaluate --data DIR --model bm25`. "
        "Every command has --help with an example."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ranksuite {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    device: str = typer.Option("auto", help="auto (cuda > mps > cpu) | cpu | cuda | cuda:N"),
    seed: int = typer.Option(42, help="seed for sampling, data order and initialisation"),
    json_out: bool = typer.Option(False, "--json", help="print machine-readable JSON instead of tables"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="more logging"),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version"
    ),
) -> None:
    """Global options go before the sub-command: ranksuite --json ir evaluate ..."""
    ctx.obj = GlobalOptions(
        device=None if device == "auto" else device, seed=seed, json=json_out, verbose=verbose
    )


app.add_typer(ir.app, name="ir")
app.add_typer(models.app, name="models")
app.add_typer(datasets.app, name="datasets")
app.add_typer(screening_cli.app, name="screening")
app.add_typer(sql_cli.app, name="sql")
app.add_typer(ecommerce_cli.app, name="ecommerce")
app.add_typer(duqgen_cli.app, name="duqgen")
app.add_typer(code_cli.app, name="code")
app.command("demo")(demo_module.demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
