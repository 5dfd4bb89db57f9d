"""Fetch recipes, offline: SMART parsing, SMART -> BEIR conversion, atomic archive extraction, offline errors, CLI.

Nothing here touches the network: archives are served from tmp_path through ``file://`` URLs, and the one
"download" that is meant to fail goes to a closed local port.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ranksuite.cli import datasets as datasets_cli
from ranksuite.cli.common import GlobalOptions
from ranksuite.datasets.fetch import (
    RECIPES,
    FetchError,
    cranfield_score,
    fetch,
    is_present,
    parse_cisi_rel,
    parse_cranqrel,
    parse_smart,
)
from ranksuite.shared.data import DataError, load_beir

SMART_SAMPLE = """\
.I 1
.T
a first title that runs
over two lines .
.A
someone, a.
.B
j. ae. sci. 1, 1958, 1.
.W
a first title that runs
over two lines .
  the body of the first
document,   with  odd spacing .
.I 2
.T
second title
.A
first, author
.A
second, author
.X
1\t5\t1
.I 003
.T Title on the marker line
.W
body three
"""

# Cranfield-style raw files: doc 2 is empty (as docs 471 and 995 are), query .I labels are not sequential, and
# cranqrel numbers queries by position (1, 2, 3), with one -1 row per query.
CRAN_ALL = """\
.I 1
.T
wing in a slipstream .
.A
brenckman,m.
.B
j. ae. scs. 25, 1958, 324.
.W
wing in a slipstream .
  an experimental study of a wing in a propeller
slipstream .
.I 2
.T
.A
.B
.W
.I 3
.T
heat conduction in composite slabs .
.A
someone
.B
somewhere
.W
heat conduction in composite slabs .
  analytic solutions for transient heat conduction in slabs .
"""
CRAN_QRY = """\
.I 001
.W
what happens to a wing in a propeller slipstream .
.I 004
.W
what problems of heat conduction in composite slabs
have been solved so far .
.I 008
.W
slipstream lift at different angles of attack .
"""
CRAN_QREL = """\
1 1 2
1 3 4
1 2 -1
2 3 1
2 2 -1
3 1 3
3 3 -1
"""


def _cran_raw(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cran.all.1400").write_text(CRAN_ALL, encoding="utf-8")
    (folder / "cran.qry").write_text(CRAN_QRY, encoding="utf-8")
    (folder / "cranqrel").write_text(CRAN_QREL, encoding="utf-8")
    return folder


def _tar_gz(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if p.name.startswith("."))


# --- parsing -----------------------------------------------------------------------------------------------------


def test_parse_smart_fields_multiline_and_missing_w() -> None:
    recs = parse_smart(SMART_SAMPLE)
    assert [r["I"] for r in recs] == ["1", "2", "003"]
    assert [r["line"] for r in recs] == [1, 14, 23]
    first = recs[0]
    assert first["T"] == "a first title that runs over two lines ."
    assert (
        first["W"]
        == "a first title that runs over two lines . the body of the first document, with odd spacing ."
    )
    assert first["A"] == "someone, a."
    assert first["B"] == "j. ae. sci. 1, 1958, 1."
    second = recs[1]
    assert "W" not in second  # a missing field is absent, not empty
    assert second["A"] == "first, author; second, author"  # repeated field (CISI's several .A blocks)
    assert second["X"] == "1 5 1"
    assert recs[2]["T"] == "Title on the marker line"
    assert recs[2]["W"] == "body three"


@pytest.mark.parametrize(
    ("text", "line", "field", "needle"),
    [
        ("stray text\n.I 1\n.W\nx\n", 1, None, "before the first '.I'"),
        (".T\ntitle\n", 1, "T", "before the first '.I'"),
        (".I 1\n.W\nx\n.I\n.W\ny\n", 4, "I", "without an id"),
        (".I 1\n.W\nx\n.I 1\n.W\ny\n", 4, "I", "duplicate id '1'"),
        (".I 1\nloose text\n.W\nx\n", 2, None, "before any field marker"),
    ],
)
def test_parse_smart_errors_name_the_line(text: str, line: int, field: str | None, needle: str) -> None:
    with pytest.raises(DataError) as err:
        parse_smart(text, path="some.ALL")
    assert err.value.path == "some.ALL"
    assert err.value.line == line
    assert err.value.field == field
    assert needle in str(err.value)


def test_qrels_parsers_and_cranfield_mapping() -> None:
    rows = parse_cranqrel("1 184 2\n\n1 485 -1\n2 12 4\n")
    assert [(r.query, r.doc, r.code, r.line) for r in rows] == [
        (1, 184, 2, 1),
        (1, 485, -1, 3),
        (2, 12, 4, 4),
    ]
    assert [cranfield_score(c) for c in (1, 2, 3, 4, 5, -1)] == [4, 3, 2, 1, 0, 0]
    with pytest.raises(DataError, match="relevance code 7") as err:
        parse_cranqrel("1 2 3\n1 2 7\n", path="cranqrel")
    assert err.value.line == 2 and err.value.field == "code"
    with pytest.raises(DataError, match="expected 3 columns"):
        parse_cranqrel("1 2\n")
    cisi = parse_cisi_rel("     1     28 0 0.000000\n     1     35 0 0.000000\n    2   29\t0\t0.0\n")
    assert [(r.query, r.doc) for r in cisi] == [(1, 28), (1, 35), (2, 29)]
    with pytest.raises(DataError, match="integer id") as err:
        parse_cisi_rel("1 28 0 0.0\nx 3 0 0.0\n")
    assert err.value.line == 2 and err.value.field == "query"


# --- SMART -> BEIR conversion ------------------------------------------------------------------------------------


def _check_cranfield_folder(folder: Path) -> None:
    coll = load_beir(folder, "test")
    assert coll.corpus["docno"].to_list() == ["1", "2", "3"]
    texts = dict(zip(coll.corpus["docno"], coll.corpus["text"], strict=True))
    assert texts["1"] == "an experimental study of a wing in a propeller slipstream ."  # title copy removed
    assert texts["2"] == ""  # empty document kept
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    assert [q["_id"] for q in queries] == ["1", "2", "3"]  # 1-based positions, as cranqrel numbers them
    assert [q["metadata"]["original_qry_I"] for q in queries] == ["001", "004", "008"]
    assert (
        queries[1]["text"] == "what problems of heat conduction in composite slabs have been solved so far ."
    )
    lines = (folder / "qrels" / "test.tsv").read_text().splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore"
    assert lines[1:] == ["1\t1\t3", "1\t3\t1", "2\t3\t4", "3\t1\t2"]  # 5 - code; -1 rows dropped
    assert sorted(coll.qrels["label"].to_list()) == [1, 2, 3, 4]


def test_cranfield_from_file_url_archive(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    archive = _tar_gz(
        tmp_path / "mirror" / "cran.tar.gz",
        {"cran.all.1400": CRAN_ALL, "cran.qry": CRAN_QRY, "cranqrel": CRAN_QREL, "README": "readme"},
    )
    recipe = replace(RECIPES["cranfield"], md5=_md5(archive))  # the real md5 is for the real archive
    dest = tmp_path / "data"
    seen: list[int] = []
    out = fetch(recipe, dest, url=archive.as_uri(), progress=lambda done, total: seen.append(done))
    assert out == dest / "cranfield"
    assert seen and seen[-1] == archive.stat().st_size
    _check_cranfield_folder(out)
    assert _leftovers(dest) == []  # the temporary folder is gone
    assert is_present(dest, "cranfield")
    # a second call keeps the existing copy without downloading (the URL is now unreachable on purpose)
    assert fetch(recipe, dest, url="http://127.0.0.1:9/cran.tar.gz", timeout=2) == out


def test_cranfield_from_local_raw_folder(tmp_path: Path) -> None:
    raw = _cran_raw(tmp_path / "raw")
    out = fetch("cranfield", tmp_path / "data", source=raw)
    _check_cranfield_folder(out)
    assert sorted(p.name for p in raw.iterdir()) == [
        "cran.all.1400",
        "cran.qry",
        "cranqrel",
    ]  # source untouched


def test_cranfield_bad_qrels_is_a_data_error_and_leaves_nothing(tmp_path: Path) -> None:
    raw = _cran_raw(tmp_path / "raw")
    (raw / "cranqrel").write_text("1 1 2\n4 3 1\n")  # query 4 does not exist: only 3 queries
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=r"outside 1\.\.3") as err:
        fetch("cranfield", dest, source=raw)
    assert err.value.line == 2 and err.value.field == "query"
    assert list(dest.iterdir()) == []


def test_cisi_conversion_keeps_judged_queries(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "CISI.ALL").write_text(
        ".I 1\n.T\nDewey decimal\n.A\nComaromi, J.P.\n.W\n   The present study is a\nhistory.\n.X\n1\t5\t1\n"
        ".I 2\n.T\nIndexing\n.A\nA, B.\n.A\nC, D.\n.W\nOn indexing.\n"
    )
    (raw / "CISI.QRY").write_text(
        ".I 1\n.W\nWhat about titles?\n.I 2\n.T\nT\n.A\nX\n.W\nIndexing please\n.B\nb\n"
    )
    (raw / "CISI.REL").write_text("     2      1 0 0.000000\n     2      2 0 0.000000\n")
    out = fetch("cisi", tmp_path / "data", source=raw)
    coll = load_beir(out, "test")
    assert coll.corpus["text"].to_list() == ["The present study is a history.", "On indexing."]
    assert coll.queries["qid"].to_list() == ["2"]  # query 1 has no judgements: left out, as in the team copy
    assert coll.queries["query"].to_list() == ["Indexing please"]
    assert sorted(coll.qrels["label"].to_list()) == [1, 1]


# --- BEIR zips: atomic extraction, md5 ---------------------------------------------------------------------------


def _beir_zip(path: Path, name: str = "scifact") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/corpus.jsonl", json.dumps({"_id": "d1", "title": "T", "text": "body"}) + "\n")
        zf.writestr(f"{name}/queries.jsonl", json.dumps({"_id": "q1", "text": "query"}) + "\n")
        zf.writestr(f"{name}/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    return path


def test_zip_recipe_extracts_atomically_and_checks_md5(tmp_path: Path) -> None:
    archive = _beir_zip(tmp_path / "scifact.zip")
    dest = tmp_path / "data"
    good = replace(RECIPES["scifact"], md5=_md5(archive))
    out = fetch(good, dest, url=archive.as_uri())
    assert out == dest / "scifact"
    assert load_beir(out, "test").qrels.height == 1
    assert sorted(p.name for p in dest.iterdir()) == ["scifact"]  # no temp folder, no archive left behind

    # a wrong md5 fails before anything is extracted; the existing copy survives --force's failed replacement
    bad = replace(RECIPES["scifact"], md5="0" * 32)
    with pytest.raises(FetchError, match="does not match the published"):
        fetch(bad, dest, url=archive.as_uri(), force=True)
    assert sorted(p.name for p in dest.iterdir()) == ["scifact"]
    assert load_beir(out, "test").qrels.height == 1
    # force with a good archive replaces the copy by rename
    (out / "marker").write_text("old copy")
    fetch(good, dest, url=archive.as_uri(), force=True)
    assert not (out / "marker").exists()
    assert sorted(p.name for p in dest.iterdir()) == ["scifact"]


def test_manually_saved_archive_is_used(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    dest.mkdir()
    _beir_zip(dest / "nfcorpus.zip", name="nfcorpus")
    out = fetch("nfcorpus", dest, url="http://127.0.0.1:9/never.zip", check_md5=False, timeout=2)
    assert load_beir(out, "test").corpus.height == 1
    assert (dest / "nfcorpus.zip").exists()  # the user's file is left where it was


def test_archive_without_beir_folder_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "scifact.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("scifact/readme.txt", "nothing here")
    dest = tmp_path / "data"
    with pytest.raises(FetchError, match="does not hold a BEIR folder"):
        fetch("scifact", dest, source=archive, check_md5=False)
    assert list(dest.iterdir()) == []


def test_unreachable_url_fails_fast_with_manual_advice(tmp_path: Path) -> None:
    dest = tmp_path / "data"
    start = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch("scifact", dest, url="http://127.0.0.1:9/x.zip", timeout=3)
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert "offline" in msg
    assert "http://127.0.0.1:9/x.zip" in msg
    assert "by hand" in msg
    assert str(dest / "scifact.zip") in msg  # where to put the file
    assert "\n" not in msg  # one line for the CLI
    assert list(dest.iterdir()) == []


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'msmarco'"):
        fetch("msmarco", "/nonexistent")


def test_recipes_registry() -> None:
    assert set(RECIPES) == {"scifact", "nfcorpus", "cranfield", "cisi"}
    for recipe in RECIPES.values():
        assert recipe.card.is_file(), recipe.card
        assert recipe.url.endswith(recipe.archive)
        assert recipe.md5 is None or len(recipe.md5) == 32
    assert (
        RECIPES["scifact"].url
        == "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip"
    )
    assert RECIPES["cranfield"].raw_files == ("cran.all.1400", "cran.qry", "cranqrel")
    assert RECIPES["cisi"].raw_files == ("CISI.ALL", "CISI.QRY", "CISI.REL")


# --- CLI (app.py does not mount `datasets` yet: a tiny app stands in for it) --------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
        ctx.obj = GlobalOptions(json=json_out)

    app.add_typer(datasets_cli.app, name="datasets")
    return app


def test_cli_list_json(tmp_path: Path) -> None:
    archive = _beir_zip(tmp_path / "scifact.zip")
    fetch("scifact", tmp_path / "ir", source=archive, check_md5=False)
    result = CliRunner().invoke(_app(), ["--json", "datasets", "list", "--root", str(tmp_path / "ir")])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"scifact", "nfcorpus", "cranfield", "cisi"}
    assert rows["scifact"]["present"] is True and rows["cisi"]["present"] is False
    assert rows["cranfield"]["kind"] == "glasgow-smart"
    assert rows["nfcorpus"]["url"].endswith("/nfcorpus.zip")
    table = CliRunner().invoke(_app(), ["datasets", "list", "--root", str(tmp_path / "ir")])
    assert table.exit_code == 0 and "cranfield" in table.stdout


def test_cli_fetch_local_and_offline(tmp_path: Path) -> None:
    raw = _cran_raw(tmp_path / "raw")
    runner = CliRunner()
    ok = runner.invoke(
        _app(), ["--json", "datasets", "fetch", "cranfield", "--to", str(tmp_path / "ir"), "--from", str(raw)]
    )
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.stdout)
    assert summary["documents"] == 3 and summary["splits"] == {"test": {"queries": 3, "qrels": 4}}

    archive = _beir_zip(tmp_path / "scifact.zip")
    table = runner.invoke(
        _app(),
        ["datasets", "fetch", "scifact", "--to", str(tmp_path / "ir"), "--url", archive.as_uri(), "--no-md5"],
    )
    assert table.exit_code == 0, table.output
    assert "wrote" in table.stdout and "1 documents" in table.stdout

    offline = runner.invoke(
        _app(),
        [
            "datasets",
            "fetch",
            "cisi",
            "--to",
            str(tmp_path / "ir"),
            "--url",
            "http://127.0.0.1:9/cisi.tar.gz",
        ],
    )
    assert offline.exit_code == 2
    assert "error:" in offline.stderr and "by hand" in offline.stderr
    assert "Traceback" not in offline.output

    unknown = runner.invoke(_app(), ["datasets", "fetch", "msmarco", "--to", str(tmp_path / "ir")])
    assert unknown.exit_code == 2 and "unknown dataset" in unknown.stderr
