"""``ranksuite screening session``: screen a review's records in the terminal, most likely relevant first.

The logic lives in :mod:`ranksuite.domains.screening.session` (usable without a terminal); this module is the
screen and the keys. One line is read per key (``input()``), so a person types ``i`` + Enter, and a script can pipe
the keys in; end of input quits cleanly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console

from ranksuite.cli.common import console, err_console, friendly_errors, options, print_json
from ranksuite.domains.screening.session import (
    Progress,
    ScreeningProject,
    ScreeningRecord,
    highlight,
)
from ranksuite.domains.screening.session import escape_markup as escape

PROMPT = "[i]nclude [e]xclude [s]kip [u]ndo [n]ote [q]uit [?]help > "
KEYS = {
    "i": "include",
    "include": "include",
    "e": "exclude",
    "exclude": "exclude",
    "s": "skip",
    "skip": "skip",
    "u": "undo",
    "undo": "undo",
    "n": "note",
    "note": "note",
    "q": "quit",
    "quit": "quit",
    "?": "help",
    "h": "help",
    "help": "help",
}
HELP = "\n".join(
    [
        "[bold]keys[/] (type the key, then Enter)",
        "  i  include: the record meets the criteria (or might: when in doubt, include at this stage)",
        "  e  exclude: it does not",
        "  s  skip: decide later; the record comes back once every other record is screened",
        "  u  undo: revert the last include/exclude/skip and show that record again",
        "  n  note: attach free text to this record (or on the same line: n wrong population)",
        "  q  quit: every decision is already saved; rerun with the same --project to resume",
        "  ?  help: this text",
        "[bold]ranking[/]: the records most likely to be included come first; it learns from each decision.",
        "[bold]est. remaining includes[/]: the include rate of your last (up to) 200 decisions × the records not "
        "yet screened, shown after 100 decisions. The ranking front-loads likely includes, so this usually "
        "overstates what is left; a rough guide, not a guarantee.",
        "[bold]stopping rule[/] (heuristic): once your last N decisions in a row were excludes (N = 200, or 5 % "
        "of the review when that is more), stopping may be reasonable. It proves nothing about missed records.",
        "[bold]export[/] at any time: ranksuite screening session --project FILE --export screened.csv (or .ris)",
    ]
)


def _read_query(query: str | None) -> str:
    if query and Path(query).is_file():
        return Path(query).read_text(encoding="utf-8")
    return query or ""


def status_line(p: Progress) -> str:
    """One line of rich markup: screened / total, includes, estimated remaining includes, stopping rule."""
    parts = [f"screened [bold]{p.screened}[/] / {p.total}", f"includes [bold]{p.includes}[/]"]
    if p.skipped:
        parts.append(f"skipped {p.skipped}")
    if p.duplicates:
        parts.append(f"duplicates set aside {p.duplicates}")
    est = p.estimate
    if est is None:
        parts.append("est. remaining includes: after 100 decisions")
    else:
        parts.append(
            f"est. remaining includes ≈ {est.expected:.1f} (≤ {est.upper95:.1f}; "
            f"rate of the last {est.window} decisions)"
        )
    s = p.stopping
    if s.met:
        parts.append(
            f"[bold green]stopping rule met: {s.since_last_include} excludes in a row (≥ {s.threshold}) — "
            "consider stopping[/]"
        )
    else:
        parts.append(f"stopping rule: {s.since_last_include}/{s.threshold} excludes in a row")
    return " · ".join(parts)


def _say(out: Console, markup: str = "") -> None:
    out.print(markup, highlight=False, emoji=False)


def render(out: Console, rec: ScreeningRecord, terms: list[str], progress: Progress) -> None:
    out.rule()
    ids = [f"Record [bold]{escape(rec.record_id)}[/]"]
    if rec.pmid:
        ids.append(f"PMID {escape(rec.pmid)}")
    if rec.doi:
        ids.append(f"doi {escape(rec.doi)}")
    if rec.decision == "skip":
        ids.append("[italic](skipped earlier)[/]")
    _say(out, " · ".join(ids))
    _say(out)
    _say(out, f"[bold]{highlight(rec.title or '(no title)', terms)}[/]")
    _say(out)
    _say(out, highlight(rec.abstract, terms) if rec.abstract else "[dim](no abstract)[/]")
    for n in rec.notes:
        _say(out, f"[cyan]note:[/] {escape(n)}")
    _say(out)
    _say(out, status_line(progress))
    out.file.flush()


def run_session(
    project: ScreeningProject, out: Console | None = None, read: Callable[[str], str] = input
) -> str:
    """The interactive loop; returns why it ended: ``quit``, ``eof`` or ``done`` (every record screened)."""
    out = out or console
    terms = project.terms
    topic = f"[bold]{escape(project.topic)}[/]"
    if terms:
        topic += f" (highlighted: {escape(', '.join(terms[:20]))}{' …' if len(terms) > 20 else ''})"
    _say(out, f"Screening: {topic}")
    _say(out, "Type a key and press Enter: ? for help.")
    while True:
        rec = project.next_record()
        if rec is None:
            p = project.progress()
            out.rule()
            _say(out, f"All {p.total} records screened: {p.includes} includes.")
            return "done"
        render(out, rec, terms, project.progress())
        while True:
            try:
                line = read(PROMPT)
            except (EOFError, KeyboardInterrupt):
                _say(out)
                _goodbye(out, project)
                return "eof"
            raw = line.strip()
            key, _, rest = raw.partition(" ")
            action = KEYS.get(key.lower())
            if not raw:
                continue
            if action is None:
                _say(out, f"unknown key '{escape(raw)}': press ? then Enter for help")
                continue
            if action == "help":
                _say(out, HELP)
                continue
            if action == "quit":
                _goodbye(out, project)
                return "quit"
            if action == "note":
                text = rest.strip()
                if not text:
                    try:
                        text = read("note: ").strip()
                    except (EOFError, KeyboardInterrupt):
                        _say(out)
                        _goodbye(out, project)
                        return "eof"
                if text:
                    project.note(rec.record_id, text)
                    _say(out, f"[cyan]note saved[/] for {escape(rec.record_id)}")
                else:
                    _say(out, "empty note: nothing saved")
                continue
            if action == "undo":
                undone = project.undo()
                if undone is None:
                    _say(out, "nothing to undo")
                    continue
                _say(out, f"[yellow]undone[/]: the last decision, on {escape(undone.record_id)}")
                break
            project.decide(rec.record_id, action)
            mark = {"include": "[green]included[/]", "exclude": "[red]excluded[/]", "skip": "skipped"}[action]
            _say(out, f"{mark} {escape(rec.record_id)}")
            break


def _goodbye(out: Console, project: ScreeningProject) -> None:
    p = project.progress()
    _say(
        out,
        f"Saved: {p.screened} of {p.total} screened, {p.includes} includes. "
        f"Resume with --project {escape(str(project.path))}; export with --export FILE.csv|FILE.ris",
    )
    out.file.flush()


@friendly_errors
def session(
    ctx: typer.Context,
    project: Path = typer.Option(
        ...,
        "--project",
        help="the project file (one SQLite database): created when --records and --topic are given, else resumed",
    ),
    records: Path | None = typer.Option(
        None, help="records to screen (creates the project): CSV/TSV/XLSX/RIS/PubMed MEDLINE export"
    ),
    topic: str | None = typer.Option(None, help="the review's title / question (creates the project)"),
    query: str | None = typer.Option(None, help="the Boolean search query, as text or a file (optional)"),
    model: str = typer.Option("minilm", help="bi-encoder backbone: minilm | mpnet | PATH of a model folder"),
    no_neural: bool = typer.Option(
        False, "--no-neural", help="TF-IDF and BM25 only (fast, no model): prior = BM25, features = TF-IDF"
    ),
    export: Path | None = typer.Option(
        None,
        help="write every record with its decision (label 1/0/empty) and notes to .csv or .ris, then stop",
    ),
) -> None:
    """Screen a review's records one at a time, most likely relevant first; each decision is saved at once.

    The first run creates the project file from --records and --topic (and --query): it scores every record against the topic (BM25 fused with the bi-encoder, or BM25 alone with --no-neural) and prepares the active learner's features (embeddings are cached on disk). Each include/exclude retrains the ranking.

    Keys, then Enter: i include, e exclude, s skip, u undo, n note, q quit, ? help. End of input quits. Every decision is committed to the project file at once, so nothing is lost if the terminal or the machine dies: rerun with the same --project to resume where you were.

    Status line: screened / total, includes, estimated includes still unscreened (include rate of your last 200 decisions × unscreened records, after 100 decisions) and a heuristic stopping rule (200 excludes in a row, or 5 % of the review when more).

    Example:  ranksuite screening session --project adhd.screening --records pubmed.nbib --topic "Drug therapy for ADHD" --query search.txt

    Export:   ranksuite screening session --project adhd.screening --export adhd-screened.ris
    """
    opts = options(ctx)
    if project.exists():
        given = [
            name
            for name, v in (("--records", records), ("--topic", topic), ("--query", query))
            if v is not None
        ]
        if given:
            _say(err_console, f"{escape(str(project))} exists: resuming it ({', '.join(given)} ignored)")
        proj = ScreeningProject.open(project)
    else:
        if records is None or not topic:
            raise ValueError(
                f"{project} does not exist: create it with --records FILE --topic TEXT [--query TEXT|FILE]"
            )
        proj = ScreeningProject.create(
            project,
            records,
            topic,
            _read_query(query),
            model=model,
            neural=not no_neural,
            device=opts.device,
            progress=not opts.json,
            log=lambda msg: _say(err_console, escape(msg)),
        )
    with proj:
        if export is not None:
            summary = proj.export(export)
            if opts.json:
                print_json(summary)
            else:
                _say(
                    console,
                    f"wrote {summary['records']} records to {escape(str(export))}: {summary['includes']} "
                    f"included, {summary['excludes']} excluded, {summary['unlabelled']} without a label",
                )
            return
        run_session(proj, console)
        if opts.json:
            print_json(proj.progress().as_dict())


def register(app: typer.Typer) -> None:
    """Mount the command as ``<app> session``."""
    app.command("session")(session)
