"""Tests for the interactive screening session: the SQLite project (create, decide, undo, skip, notes, resume,
export), the highlighting and the estimates, the piped CLI, and a ``kill -9`` in the middle of a session."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from typer.testing import CliRunner

from ranksuite.domains.screening.data import read_records
from ranksuite.domains.screening.session import (
    ScreeningProject,
    default_stop_threshold,
    estimate_remaining,
    highlight,
    stopping_rule,
    topic_terms,
    wilson_upper,
)

TOPIC = "Aspirin for the prevention of stroke"
RECORDS = [
    (
        "a1",
        "Aspirin and stroke prevention in atrial fibrillation",
        "Aspirin reduced stroke in a randomised trial.",
    ),
    ("a2", "Low-dose aspirin after transient ischaemic attack", "Stroke recurrence fell with daily aspirin."),
    (
        "a3",
        "Aspirin versus placebo for secondary stroke prevention",
        "A trial of aspirin in stroke survivors.",
    ),
    ("b1", "Knee replacement outcomes in older adults", "Function improved after total knee arthroplasty."),
    ("b2", "Dietary fibre and colorectal cancer", "Fibre intake was associated with lower risk."),
    ("b3", "Sleep duration in adolescents", "Short sleep was common among school pupils."),
    ("b4", "Statins and muscle pain", "Myalgia was reported by few patients on statins."),
    ("b5", "Hand washing in hospital wards", "Compliance rose after an education campaign."),
    ("b6", "Vitamin D and bone density", "Supplements had small effects on density."),
    ("b7", "Asthma inhalers in children", "Inhaler technique was often poor."),
    ("b8", "Smoking cessation with varenicline", "Quit rates doubled compared with placebo."),
    ("b9", "Cataract surgery waiting times", "Waiting times fell after a new pathway."),
]
PROMPT_MARK = "?]help > "


def write_tiny(path: Path, records: list[tuple[str, str, str]] = RECORDS) -> Path:
    pl.DataFrame(
        {
            "record_id": [r[0] for r in records],
            "title": [r[1] for r in records],
            "abstract": [r[2] for r in records],
        }
    ).write_csv(path)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny(tmp_path / "records.csv")


@pytest.fixture
def project(tmp_path: Path, tiny: Path):
    p = ScreeningProject.create(tmp_path / "review.screening", tiny, TOPIC, neural=False)
    yield p
    p.close()


def decisions(p: ScreeningProject) -> list[tuple[str, str]]:
    return [(r["record_id"], r["decision"]) for r in p.decisions().iter_rows(named=True)]


# ----------------------------------------------------------------------------- highlighting and estimates


def test_topic_terms_drop_stop_words_and_boolean_syntax() -> None:
    terms = topic_terms(
        "The effect of aspirin on stroke", '(aspirin[tiab] OR acetylsalicylic*) AND "stroke".ti'
    )
    assert terms == ["effect", "aspirin", "stroke", "acetylsalicylic"]
    assert topic_terms("Drugs for ADHD in 2020", "") == ["drugs", "adhd"]


def test_highlight_is_case_insensitive_with_prefixes_and_escapes_markup() -> None:
    on, off = "[bold yellow]", "[/bold yellow]"
    out = highlight("Aspirin cut STROKE risk; aspirins too [b]", ["aspirin", "stroke"])
    assert out == f"{on}Aspirin{off} cut {on}STROKE{off} risk; {on}aspirins{off} too \\[b]"
    # a word must start with the term; short terms (< 4 letters) match whole words only
    assert highlight("grandchild children", ["child"]) == f"grandchild {on}children{off}"
    assert highlight("IVF and IV", ["iv"]) == f"IVF and {on}IV{off}"
    assert highlight("nothing here", []) == "nothing here"
    # whatever the text, the markup renders back to exactly the text
    for text in [
        "a [/] b \\",
        "[bold]stroke[/bold] x\\",
        "aspirin\\[x] [/bold yellow]",
        "ümlaut Stroke-unit",
        "\\",
        "[",
        "stroke\\",
    ]:
        assert Text.from_markup(highlight(text, ["aspirin", "stroke"])).plain == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab[]/\\@#= xyZ", max_size=40))
def test_highlight_never_breaks_the_markup(text: str) -> None:
    assert Text.from_markup(highlight(text, ["abab", "xy", "zz"])).plain == text


def test_estimate_remaining_extrapolates_the_recent_include_rate() -> None:
    labels = [1] * 20 + [0] * 80 + [1] * 10 + [0] * 190  # last 200 decisions: 10 includes
    est = estimate_remaining(labels, unscreened=400)
    assert est is not None
    assert est.window == 200 and est.includes_in_window == 10
    assert est.rate == pytest.approx(0.05)
    assert est.expected == pytest.approx(20.0)
    assert est.upper95 == pytest.approx(wilson_upper(10, 200) * 400)
    assert est.expected < est.upper95 < 400
    assert estimate_remaining([1, 0] * 49, unscreened=100) is None  # 98 decisions: too few to say
    assert estimate_remaining([0] * 150, unscreened=0).expected == 0.0
    # no include in the window: expected 0, but the upper bound is not (rule of three, roughly 3/n)
    none = estimate_remaining([0] * 200, unscreened=1000)
    assert none.expected == 0.0 and 10 < none.upper95 < 20


def test_stopping_rule_counts_consecutive_excludes() -> None:
    assert default_stop_threshold(1000) == 200
    assert default_stop_threshold(10_000) == 500  # 5 % when that is more
    rule = stopping_rule([1, 0, 1, 0, 0, 0], n_records=50, threshold=3)
    assert (rule.since_last_include, rule.threshold, rule.met) == (3, 3, True)
    rule = stopping_rule([1, 0, 0, 1, 0, 0], n_records=50, threshold=3)
    assert (rule.since_last_include, rule.met) == (2, False)
    assert stopping_rule([], n_records=50).since_last_include == 0
    assert stopping_rule([0] * 200, n_records=1000).met


# ----------------------------------------------------------------------------- the project


def test_create_ranks_by_topic_and_resumes_with_the_same_next_record(tmp_path: Path, tiny: Path) -> None:
    path = tmp_path / "review.screening"
    with ScreeningProject.create(path, tiny, TOPIC, neural=False) as p:
        assert p.records.height == 12 and not p.neural
        first = p.next_record()
        assert first.record_id.startswith("a")  # BM25 prior: an aspirin/stroke record first
        assert "[bold yellow]" in highlight(first.title, p.terms)
        gold = {r[0]: r[0].startswith("a") for r in RECORDS}
        for _ in range(5):
            rec = p.next_record()
            p.decide(rec.record_id, "include" if gold[rec.record_id] else "exclude")
        made = decisions(p)
        nxt = p.next_record().record_id
        prog = p.progress()
    assert len(made) == 5 and prog.screened == 5 and prog.total == 12
    assert prog.includes == sum(gold[r] for r, _ in made)
    with ScreeningProject.open(path) as p:
        assert decisions(p) == made
        assert p.next_record().record_id == nxt
        assert p.progress().as_dict() == prog.as_dict()
    with pytest.raises(ValueError, match="already exists"):
        ScreeningProject.create(path, tiny, TOPIC, neural=False)
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith(".")) == []  # no leftovers


def test_open_rejects_what_is_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ScreeningProject.open(tmp_path / "missing.screening")
    junk = tmp_path / "junk.screening"
    junk.write_text("not a database\n" * 100)
    with pytest.raises(ValueError, match="not a ranksuite screening project"):
        ScreeningProject.open(junk)
    other = tmp_path / "other.sqlite"  # someone else's database: refused and left as it was
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match="not a ranksuite screening project"):
        ScreeningProject.open(other)
    assert sqlite3.connect(other).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_undo_reverts_the_last_decision_and_shows_it_again(project: ScreeningProject) -> None:
    a = project.next_record().record_id
    project.include(a)
    b = project.next_record().record_id
    project.exclude(b)
    c = project.next_record().record_id
    undone = project.undo()
    assert undone.record_id == b and undone.decision is None
    assert decisions(project) == [(a, "include")]
    assert project.next_record().record_id == b  # shown again
    project.skip(b)
    assert project.undo().record_id == b  # a skip is undone too
    assert project.next_record().record_id == b
    project.exclude(b)
    assert project.next_record().record_id == c  # same state as before the undo: same next record
    assert project.undo().record_id == b
    assert project.undo().record_id == a
    assert project.undo() is None
    assert decisions(project) == []
    # a changed decision (through the API) is undone back to the earlier one
    project.include(a)
    project.exclude(a)
    project.undo()
    assert decisions(project) == [(a, "include")]


def test_skip_moves_a_record_after_all_others(project: ScreeningProject) -> None:
    first = project.next_record().record_id
    project.skip(first)
    second = project.next_record().record_id
    assert second != first
    project.skip(second)
    seen = []
    while (rec := project.next_record()) is not None and rec.decision != "skip":
        seen.append(rec.record_id)
        project.exclude(rec.record_id)
    assert len(seen) == 10 and first not in seen and second not in seen
    assert project.progress().skipped == 2 and project.progress().unscreened == 2
    assert rec.record_id == first  # oldest skip first ...
    project.skip(first)
    assert project.next_record().record_id == second  # ... skipping again sends it to the back
    project.include(second)
    project.include(first)
    assert project.next_record() is None
    assert project.progress().done


def test_notes_are_kept_and_exported(project: ScreeningProject, tmp_path: Path) -> None:
    rid = project.next_record().record_id
    project.note(rid, "check the population")
    project.note(rid, "  second  thought ")
    with pytest.raises(ValueError):
        project.note(rid, "   ")
    with pytest.raises(ValueError, match="unknown record_id"):
        project.note("nope", "x")
    project.include(rid)
    project.undo()  # undo leaves notes alone
    assert project.notes(rid) == ["check the population", "second  thought"]
    assert project.next_record().notes == ["check the population", "second  thought"]
    project.include(rid)
    assert project.decisions()["note"].to_list() == ["check the population | second  thought"]
    with ScreeningProject.open(project.path) as again:
        assert again.notes(rid) == ["check the population", "second  thought"]


def test_export_csv_and_ris_round_trip_through_read_records(
    project: ScreeningProject, tmp_path: Path
) -> None:
    made = {}
    for _ in range(6):
        rec = project.next_record()
        d = "include" if rec.record_id.startswith("a") else "exclude"
        project.decide(rec.record_id, d)
        made[rec.record_id] = 1 if d == "include" else 0
    skipped = project.next_record().record_id
    project.skip(skipped)
    project.note(skipped, "ask the second reviewer")
    expected = {r[0]: made.get(r[0]) for r in RECORDS}

    summary = project.export(tmp_path / "out.csv")
    assert summary["records"] == 12 and summary["includes"] + summary["excludes"] == 6
    assert summary["unlabelled"] == 6 and summary["skipped"] == 1
    back = read_records(tmp_path / "out.csv")
    assert dict(zip(back["record_id"], back["label"], strict=True)) == expected
    assert back["title"].to_list() == [r[1] for r in RECORDS]
    raw = pl.read_csv(tmp_path / "out.csv")
    row = raw.filter(pl.col("record_id") == skipped).row(0, named=True)
    assert row["screening_decision"] == "skip" and row["screening_notes"] == "ask the second reviewer"

    project.export(tmp_path / "out.ris")
    back = read_records(tmp_path / "out.ris")
    assert dict(zip(back["record_id"], back["label"], strict=True)) == expected
    ris = (tmp_path / "out.ris").read_text()
    assert ris.count("ASReview_relevant") == 2 * sum(v == 1 for v in made.values())  # KW and N1
    assert ris.count("ASReview_irrelevant") == 2 * sum(v == 0 for v in made.values())
    assert "N1  - ask the second reviewer" in ris
    with pytest.raises(ValueError, match=r"\.csv or \.ris"):
        project.export(tmp_path / "out.xlsx")


def test_duplicates_are_set_aside(tmp_path: Path) -> None:
    recs = [*RECORDS, ("a1-copy", RECORDS[0][1], RECORDS[0][2])]  # same title: a duplicate of a1
    with ScreeningProject.create(
        tmp_path / "d.screening", write_tiny(tmp_path / "d.csv", recs), TOPIC, neural=False
    ) as p:
        prog = p.progress()
        assert (prog.records, prog.duplicates, prog.total) == (13, 1, 12)
        with pytest.raises(ValueError, match="duplicate of 'a1'"):
            p.include("a1-copy")
        shown = []
        while (rec := p.next_record()) is not None:
            shown.append(rec.record_id)
            p.exclude(rec.record_id)
        assert "a1-copy" not in shown and len(shown) == 12
        p.export(tmp_path / "d.csv")
    row = pl.read_csv(tmp_path / "d.csv").filter(pl.col("record_id") == "a1-copy").row(0, named=True)
    assert row["screening_decision"] == "duplicate" and row["label"] is None


def test_neural_project_stores_embeddings_and_resumes(
    tmp_path: Path, tiny: Path, tiny_backbone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANKSUITE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "n.screening"
    with ScreeningProject.create(path, tiny, TOPIC, model=str(tiny_backbone), neural=True) as p:
        assert p.neural and p.meta["prior"] == "fusion"
        assert p.embeddings.shape == (12, 32)
        from ranksuite.domains.screening.simulate import DEFAULT_STRATEGY, STRATEGIES

        # the session learns on the default strategy's features: TF-IDF, plus embeddings only if it uses them
        with_embeddings = p.features.shape[1] > 32 and np.allclose(
            p.features[:, -32:].toarray(), p.embeddings
        )
        assert with_embeddings == STRATEGIES[DEFAULT_STRATEGY].dense_features
        p.include(p.next_record().record_id)
        p.exclude(p.next_record().record_id)
        nxt = p.next_record().record_id
        emb = p.embeddings.copy()
    assert list((tmp_path / "cache" / "embeddings").glob("*.npy"))  # cached on disk for the next project
    with ScreeningProject.open(path) as p:  # no model needed to resume
        np.testing.assert_array_equal(p.embeddings, emb)
        assert p.next_record().record_id == nxt


@pytest.mark.realdata
def test_real_review_slice_resumes_identically(tmp_path: Path, shared_data: Path) -> None:
    reviews = sorted((shared_data / "screening" / "cohen2006" / "reviews").glob("*.csv.gz"))
    if not reviews:
        pytest.skip("no cohen2006 reviews in ../shared/data")
    df = pl.read_csv(reviews[0]).filter(pl.col("title").is_not_null()).head(60)
    df.select("doc_id", "title", "abstract", "label").write_csv(tmp_path / "slice.csv")
    gold = dict(zip(df["doc_id"].cast(pl.String), df["label"], strict=True))
    path = tmp_path / "slice.screening"
    topic = reviews[0].name.removesuffix(".csv.gz").split("_", 1)[-1]
    with ScreeningProject.create(path, tmp_path / "slice.csv", topic, neural=False) as p:
        assert p.records["label"].sum() == sum(gold.values())  # the file's labels are kept, not used
        assert p.progress().screened == 0
        for _ in range(25):
            rec = p.next_record()
            p.decide(rec.record_id, "include" if gold[rec.record_id] else "exclude")
        order = [r for r, _ in decisions(p)]
        nxt = p.next_record().record_id
    with ScreeningProject.open(path) as p:
        assert [r for r, _ in decisions(p)] == order
        assert p.next_record().record_id == nxt


# ----------------------------------------------------------------------------- the command


_APP_SCRIPT = """\
import typer
from ranksuite.cli.app import root
from ranksuite.domains.screening.session_cli import register

app = typer.Typer(pretty_exceptions_enable=False)
app.callback()(root)
screening = typer.Typer()
register(screening)
app.add_typer(screening, name="screening")

if __name__ == "__main__":
    app()
"""


def _mounted() -> bool:
    """Whether ``ranksuite screening session`` exists in the real app yet."""
    from typer.main import get_command

    from ranksuite.cli.app import app

    group = get_command(app)
    screening = getattr(group, "commands", {}).get("screening")
    return screening is not None and "session" in getattr(screening, "commands", {})


def cli_app() -> typer.Typer:
    if _mounted():
        from ranksuite.cli.app import app

        return app
    from ranksuite.cli.app import root
    from ranksuite.domains.screening.session_cli import register

    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(root)
    screening = typer.Typer()
    register(screening)
    app.add_typer(screening, name="screening")
    return app


def cli_argv(tmp_path: Path) -> list[str]:
    if _mounted():
        return [sys.executable, "-m", "ranksuite.cli.app", "screening", "session"]
    script = tmp_path / "session_app.py"
    script.write_text(_APP_SCRIPT)
    return [sys.executable, str(script), "screening", "session"]


def test_cli_piped_session_export_and_errors(tmp_path: Path, tiny: Path) -> None:
    app, runner = cli_app(), CliRunner()
    proj = tmp_path / "cli.screening"
    args = ["screening", "session", "--project", str(proj)]
    create = [*args, "--records", str(tiny), "--topic", TOPIC, "--no-neural"]
    result = runner.invoke(app, create, input="i\ne\nx\n?\nn wrong comparator\ns\nu\ne\nq\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Screening: Aspirin for the prevention of stroke" in out
    assert "unknown key 'x'" in out and "stopping rule" in out and "est. remaining includes" in out
    assert "note saved" in out and "undone" in out and "Saved: 3 of 12 screened" in out
    with ScreeningProject.open(proj) as p:
        made = decisions(p)
        assert [d for _, d in made] == ["include", "exclude", "exclude"]
        assert p.notes(made[2][0]) == ["wrong comparator"]  # the note went to the record on screen
    # end of input quits cleanly; resuming ignores --records with a note
    result = runner.invoke(app, [*create], input="i\n")
    assert result.exit_code == 0, result.output
    assert "resuming it" in result.output
    with ScreeningProject.open(proj) as p:
        assert len(decisions(p)) == 4
    # --json export summary
    result = runner.invoke(app, ["--json", *args, "--export", str(tmp_path / "x.ris")])
    assert result.exit_code == 0, result.output
    assert '"includes": 2' in result.output
    assert read_records(tmp_path / "x.ris")["label"].drop_nulls().len() == 4
    # errors: one line, exit code 2
    result = runner.invoke(app, ["screening", "session", "--project", str(tmp_path / "none.screening")])
    assert result.exit_code == 2 and "does not exist" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("title,abstract\n,\n")
    bad_args = ["screening", "session", "--project", str(tmp_path / "b.screening"), "--records", str(bad)]
    result = runner.invoke(app, [*bad_args, "--topic", TOPIC, "--no-neural"])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "b.screening").exists()


def test_cli_finishes_when_every_record_is_screened(tmp_path: Path, tiny: Path) -> None:
    app, runner = cli_app(), CliRunner()
    create = ["screening", "session", "--project", str(tmp_path / "all.screening"), "--records", str(tiny)]
    result = runner.invoke(app, [*create, "--topic", TOPIC, "--no-neural"], input="e\n" * 12 + "e\n")
    assert result.exit_code == 0, result.output
    assert "All 12 records screened: 0 includes." in result.output


def _wait(what, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the session exited early ({proc.returncode}):\n{log.read_text() if log else ''}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s:\n{log.read_text() if log else ''}")


def _count_decisions(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(str(db), timeout=10)
    try:
        return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    except sqlite3.DatabaseError:
        return 0
    finally:
        conn.close()


def test_kill_9_loses_no_decision(tmp_path: Path, tiny: Path) -> None:
    db = tmp_path / "kill.screening"
    log = tmp_path / "session.log"
    argv = [
        *cli_argv(tmp_path),
        "--project",
        str(db),
        "--records",
        str(tiny),
        "--topic",
        TOPIC,
        "--no-neural",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}
    n = 4
    with open(log, "w") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, text=True, env=env
        )
        try:
            for k in range(n):
                _wait(lambda k=k: log.read_text().count(PROMPT_MARK) >= k + 1, 180, proc, log)  # record shown
                proc.stdin.write("ie"[k % 2] + "\n")
                proc.stdin.flush()
                _wait(lambda k=k: _count_decisions(db) == k + 1, 60, proc, log)  # committed
            _wait(lambda: log.read_text().count(PROMPT_MARK) >= n + 1, 60, proc, log)  # next record on screen
            on_screen = re.findall(r"Record (\S+)", log.read_text())[-1]
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL
    with ScreeningProject.open(db) as p:
        made = decisions(p)
        assert [d for _, d in made] == ["include", "exclude", "include", "exclude"]
        assert p.next_record().record_id == on_screen
    # the session goes on from there
    result = CliRunner().invoke(cli_app(), ["screening", "session", "--project", str(db)], input="i\nq\n")
    assert result.exit_code == 0, result.output
    assert f"Record {on_screen}" in result.output
    with ScreeningProject.open(db) as p:
        assert decisions(p) == [*made, (on_screen, "include")]
