"""Tests for ranksuite.domains.screening.data: every export format, errors naming file/record/line/field,
quarantine, duplicate flags, round trips, and the real CLEF 2017 / Cohen 2006 reviews (skipped when absent)."""

from __future__ import annotations

import gzip
import random
import string
import tempfile
import time
from pathlib import Path

import polars as pl
import pytest
import rispy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranksuite.domains.screening.data import (
    QUARANTINE_COLUMNS,
    RECORDS_SCHEMA,
    Review,
    flag_duplicates,
    load_review_dirs,
    load_reviews,
    normalise_doi,
    read_records,
    read_records_report,
    validate_records,
    write_records,
)
from ranksuite.shared.data import DataError

SCREENING = Path(__file__).resolve().parents[2] / "shared" / "data" / "screening"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _row(df: pl.DataFrame, record_id: str) -> dict:
    return df.filter(pl.col("record_id") == record_id).row(0, named=True)


# ----------------------------------------------------------------------------- CSV / TSV / XLSX

ZOTERO_CSV = (
    '"Key","Item Type","Publication Year","Author","Title","Publication Title","DOI","Abstract Note","Included"\n'
    '"ABCD1234","journalArticle","2019","Smith, Anna","Serum galactomannan for invasive aspergillosis",'
    '"Clin Infect Dis","https://doi.org/10.1000/CID.2019.01","Background: a test. Methods: a meta-analysis.","yes"\n'
    '"EFGH5678","journalArticle","2020","Jones, Bo","Beta-D-glucan in neutropenic patients","Mycoses","",'
    '"First paragraph.\nSecond paragraph, on a new line.","No"\n'
    '"IJKL9012","journalArticle","2021","Lee, C","PCR for Aspergillus in bronchoalveolar lavage","Thorax",'
    '"doi:10.1000/thx.7","",""\n'
)


def test_csv_with_zotero_aliases(tmp_path: Path) -> None:
    df = read_records(_write(tmp_path / "zotero.csv", ZOTERO_CSV))
    assert df.schema == pl.Schema(RECORDS_SCHEMA)
    assert df["record_id"].to_list() == ["ABCD1234", "EFGH5678", "IJKL9012"]  # "Key", input order kept
    assert df["title"][0] == "Serum galactomannan for invasive aspergillosis"  # not "Publication Title"
    assert df["abstract"].to_list()[1:] == ["First paragraph. Second paragraph, on a new line.", ""]
    assert df["label"].to_list() == [1, 0, None]
    assert df["doi"].to_list() == ["10.1000/cid.2019.01", None, "10.1000/thx.7"]
    assert df["pmid"].to_list() == [None, None, None]
    assert df["duplicate_of"].null_count() == 3


def test_csv_generated_ids_semicolons_bom_and_pmid(tmp_path: Path) -> None:
    text = (
        "\ufeffTI;AB;PubMed ID;Label_Included\nFirst title;first abstract;11111111;1\n;only an abstract;;0\n"
    )
    df = read_records(_write(tmp_path / "export.csv", text))
    assert df["record_id"].to_list() == ["11111111", "r2"]  # the PMID column is the id when there is no other
    assert df["pmid"].to_list() == ["11111111", None]
    assert df["title"].to_list() == ["First title", ""]
    assert df["label"].to_list() == [1, 0]


def test_tsv_and_gzip(tmp_path: Path) -> None:
    tsv = "record_id\ttitle\tabstract\tdecision\nx1\tA title\tAn abstract\tinclude\nx2\tB title\t\texclude\n"
    plain = read_records(_write(tmp_path / "r.tsv", tsv))
    gz = tmp_path / "r.tsv.gz"
    gz.write_bytes(gzip.compress(tsv.encode()))
    assert plain.equals(read_records(gz))
    assert plain["label"].to_list() == [1, 0]
    csv_gz = tmp_path / "r.csv.gz"
    csv_gz.write_bytes(gzip.compress(tsv.replace("\t", ",").encode()))
    assert read_records(csv_gz).equals(plain)


def test_txt_tab_separated_is_read_as_a_table(tmp_path: Path) -> None:
    df = read_records(_write(tmp_path / "wos.txt", "TI\tAB\tDI\tUT\nA title\tAn abstract\t10.1/X\tWOS:1\n"))
    assert df.row(0) == ("WOS:1", "A title", "An abstract", None, None, "10.1/x", None)


def test_xlsx_with_numeric_cells(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Article Title", "Abstract", "PMID", "Decision", "DOI"])
    ws.append(["Galactomannan in BAL fluid", "We studied BAL.", 22222222, "Include", "10.1000/A"])
    ws.append(["Antigen detection in serum", None, 33333333, "Exclude", None])
    ws.append([None, None, None, None, None])  # an empty row is not a record
    ws.append(["Lateral flow assay", "A device.", 44444444, None, None])
    wb.save(tmp_path / "screening.xlsx")
    df = read_records(tmp_path / "screening.xlsx")
    assert df["record_id"].to_list() == ["22222222", "33333333", "44444444"]
    assert df["pmid"].to_list() == ["22222222", "33333333", "44444444"]
    assert df["label"].to_list() == [1, 0, None]
    assert df["abstract"].to_list() == ["We studied BAL.", "", "A device."]
    assert df["doi"].to_list() == ["10.1000/a", None, None]


def test_xlsx_bad_record_names_sheet_row(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Title", "Abstract", "ID"])
    ws.append(["A title", "text", "a"])
    ws.append([None, None, "b"])
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(DataError) as err:
        read_records(tmp_path / "bad.xlsx")
    assert "bad.xlsx" in str(err.value) and "record 2 (sheet row 3)" in str(err.value)
    assert err.value.field == "title/abstract"


# ----------------------------------------------------------------------------- RIS

RIS = """Provider: Ovid Technologies
Database: Ovid MEDLINE(R) ALL
Content: text/plain; charset="UTF-8"

TY  - JOUR
DB  - Ovid MEDLINE(R) ALL
AN  - 10000001
AU  - Pfeiffer, Christine D.
AU  - Fine, Jason P.
TI  - Serum galactomannan assay for invasive aspergillosis: a
  meta-analysis of diagnostic accuracy
AB  - Background: invasive aspergillosis is common. Methods: we pooled 27 studies.
PY  - 2006
DO  - https://doi.org/10.1000/CID.503427
KW  - Aspergillosis
KW  - ASReview_relevant
LB  - 1
ER  -

TY  - JOUR
DB  - Embase
AN  - 620123456
T1  - Beta-D-glucan testing in the intensive care unit
N2  - We measured beta-D-glucan in 120 patients.
M1  - PMID: 20000002
N1  - ASReview_irrelevant
ER  -

TY  - JOUR
TI  - Polymerase chain reaction for Aspergillus DNA in blood
UR  - https://pubmed.ncbi.nlm.nih.gov/30000003/
ER  -
"""


def test_ris_fields(tmp_path: Path) -> None:
    df = read_records(_write(tmp_path / "ovid.ris", RIS.replace("ER  -\n", "ER  - \n")))  # as EndNote writes
    assert df["record_id"].to_list() == ["10000001", "620123456", "r3"]
    assert df["title"].to_list() == [
        "Serum galactomannan assay for invasive aspergillosis: a meta-analysis of diagnostic accuracy",
        "Beta-D-glucan testing in the intensive care unit",
        "Polymerase chain reaction for Aspergillus DNA in blood",
    ]
    assert df["abstract"][1] == "We measured beta-D-glucan in 120 patients."
    assert df["abstract"][2] == ""
    assert df["pmid"].to_list() == ["10000001", "20000002", "30000003"]  # AN (MEDLINE), M1 note, PubMed URL
    assert df["doi"].to_list() == ["10.1000/cid.503427", None, None]
    assert df["label"].to_list() == [1, 0, None]


def test_ris_txt_extension_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes(RIS.split("\n\n", 1)[1].replace("\n", "\r\n").encode())
    assert read_records(path).height == 3


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("TY  - JOUR\nTI  - One\nER  - \nTY  - JOUR\nTI  - Two\n", 4, "no 'ER  -'"),  # last record unclosed
        ("TY  - JOUR\nTI  - One\nTY  - JOUR\nTI  - Two\nER  - \n", 3, "no 'ER  -'"),  # TY inside a record
        ("TY  - JOUR\nTI - Wrong spacing\nER  - \n", 2, "not a RIS tag line"),
        ("TY  - JOUR\nTI  - One\nER  - \nsome stray text\n", 4, "not a RIS tag line"),
        ("TY  - JOUR\nTI  - One\nER  - \nTI  - Two\nER  - \n", 4, "outside a record"),
        ("Title,Abstract\nA,B\n", 1, "not a RIS tag line"),
        ("\n\n", 1, "no RIS record"),
    ],
)
def test_malformed_ris(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = _write(tmp_path / "bad.ris", text)
    with pytest.raises(DataError) as err:
        read_records(path)
    assert err.value.line == line and needle in str(err.value)
    assert str(path) in str(err.value) and f"line {line}" in str(err.value)


def test_ris_empty_record_and_conflicting_label(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.ris", "TY  - JOUR\nTI  - One\nER  - \n\nTY  - JOUR\nPY  - 2001\nER  - \n")
    with pytest.raises(DataError) as err:
        read_records(path)
    assert err.value.line == 5 and err.value.field == "title/abstract" and "record 2" in str(err.value)
    path = _write(tmp_path / "c.ris", "TY  - JOUR\nTI  - One\nLB  - 0\nKW  - ASReview_relevant\nER  - \n")
    with pytest.raises(DataError) as err:
        read_records(path)
    assert err.value.field == "label" and err.value.line == 1


def test_ris_free_text_lb_is_not_a_label(tmp_path: Path) -> None:
    df = read_records(_write(tmp_path / "e.ris", "TY  - JOUR\nTI  - One\nLB  - Smith2019\nER  - \n"))
    assert df["label"].to_list() == [None]


# ----------------------------------------------------------------------------- PubMed / MEDLINE

MEDLINE = """
PMID- 10000001
OWN - NLM
STAT- MEDLINE
DCOM- 20060411
IS  - 1537-6591 (Electronic)
DP  - 2006 May 15
TI  - Serum galactomannan assay for invasive aspergillosis: a meta-analysis of
      diagnostic accuracy.
PG  - 1417-27
LID - S1234-5678(06)00001-2 [pii]
LID - 10.1000/cid.503427 [doi]
AB  - BACKGROUND: Invasive aspergillosis is a major cause of morbidity.
      METHODS: We pooled 27 studies. RESULTS: Sensitivity was 0.71.
FAU - Pfeiffer, Christine D
AU  - Pfeiffer CD
PT  - Journal Article

PMID- 20000002
OWN - NLM
TI  - Beta-D-glucan testing in the intensive care unit.
AID - 10.1000/ICU.77 [doi]
AID - icu77 [pii]
PT  - Letter

PMID- 30000003
BTI - Aspergillus and aspergillosis: a handbook
AB  - A book chapter.
"""


def test_medline_fields(tmp_path: Path) -> None:
    df = read_records(_write(tmp_path / "pubmed-export.nbib", MEDLINE))
    assert df["record_id"].to_list() == ["10000001", "20000002", "30000003"]
    assert df["pmid"].to_list() == df["record_id"].to_list()
    assert df["title"][0] == (
        "Serum galactomannan assay for invasive aspergillosis: a meta-analysis of diagnostic accuracy."
    )
    assert df["abstract"][0].endswith("We pooled 27 studies. RESULTS: Sensitivity was 0.71.")
    assert df["abstract"][1] == ""
    assert df["title"][2] == "Aspergillus and aspergillosis: a handbook"
    assert df["doi"].to_list() == ["10.1000/cid.503427", "10.1000/icu.77", None]
    assert df["label"].null_count() == 3
    assert read_records(_write(tmp_path / "pubmed.txt", MEDLINE)).equals(df)


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("PMID- 1\nTI  - A title\nthis line has no tag\n", 3, "not a MEDLINE line"),
        ("PMID- 1\nTI  - A title\n\n      orphan continuation\n", 4, "continuation"),
        ("PMID- 1\nTI - two-letter tag padded wrongly\n", 2, "not a MEDLINE line"),
        ("", 1, "no PubMed/MEDLINE record"),
    ],
)
def test_malformed_medline(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = _write(tmp_path / "bad.medline", text)
    with pytest.raises(DataError) as err:
        read_records(path)
    assert err.value.line == line and needle in str(err.value) and str(path) in str(err.value)


def test_medline_record_without_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.nbib", "PMID- 1\nTI  - A title\n\nPMID- 2\nOWN - NLM\n")
    with pytest.raises(DataError) as err:
        read_records(path)
    assert (err.value.line, err.value.field) == (4, "title/abstract") and "record 2" in str(err.value)


# ----------------------------------------------------------------------------- CSV errors and quarantine


def test_csv_without_title_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "id,Abstract,Year\n1,Some text,2001\n")
    with pytest.raises(DataError) as err:
        read_records(path)
    assert err.value.field == "title" and err.value.line == 1
    assert "no title column" in str(err.value) and "id, Abstract, Year" in str(err.value)


BAD_CSV = (
    "id,title,abstract,label\n"  # line 1
    'a,Good record,"An abstract\nover two lines",1\n'  # lines 2-3
    "b,,,0\n"  # line 4: no title, no abstract
    "c,Third record,text,maybe\n"  # line 5: unknown label
    "a,Fourth record,text,0\n"  # line 6: id used before
    "e,Fifth record,text,0\n"  # line 7
)


def test_csv_empty_record_names_record_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", BAD_CSV)
    with pytest.raises(DataError) as err:
        read_records(path)
    assert str(err.value).startswith(f"{path}, line 4: field 'title/abstract': record 2:")


def test_skip_bad_writes_the_quarantine_and_counts(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", BAD_CSV)
    res = read_records_report(path, skip_bad=True)
    assert res.skipped == 3
    assert res.records["record_id"].to_list() == ["a", "e"]
    assert res.quarantine_path == tmp_path / "bad.csv.quarantine.csv"
    q = pl.read_csv(res.quarantine_path, infer_schema=False)
    assert q.columns == QUARANTINE_COLUMNS
    assert q["record"].to_list() == ["2", "3", "4"]
    assert q["line"].to_list() == ["4", "5", "6"]
    assert q["field"].to_list() == ["title/abstract", "label", "record_id"]
    assert q["label"].to_list()[1] == "maybe" and q["title"].to_list()[2] == "Fourth record"
    # an explicit quarantine file is always written (header only when nothing was bad)
    good = _write(tmp_path / "good.csv", "title\nA\n")
    res = read_records_report(good, skip_bad=True, quarantine=tmp_path / "q" / "good-bad.csv")
    assert res.skipped == 0 and pl.read_csv(res.quarantine_path).height == 0
    assert read_records(path, skip_bad=True, quarantine=tmp_path / "q2.csv").height == 2


def test_csv_broken_quote_and_ragged_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.csv", 'title,abstract\nA,"unclosed\nB,text\n')
    with pytest.raises(DataError) as err:
        read_records(path)
    assert err.value.line == 2 and "quoting" in str(err.value)
    path = _write(tmp_path / "r.csv", "title,abstract\nA,text,extra\n")
    with pytest.raises(DataError) as err:
        read_records(path)
    assert err.value.line == 2 and "3 cells" in str(err.value)


def test_missing_file_and_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_records(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unsupported file type"):
        read_records(_write(tmp_path / "x.json", "{}"))


def test_non_utf8_is_read_as_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "ansi.ris"
    path.write_bytes("TY  - JOUR\nTI  - Fr\u00e9quence des aspergilloses\nER  - \n".encode("cp1252"))
    with pytest.warns(UserWarning, match="Windows-1252"):
        df = read_records(path)
    assert df["title"][0] == "Fr\u00e9quence des aspergilloses"


# ----------------------------------------------------------------------------- duplicates


def _frame(rows: list[tuple[str, str, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [r[0] for r in rows],
            "title": [r[1] for r in rows],
            "abstract": [""] * len(rows),
            "label": [None] * len(rows),
            "pmid": [r[2] for r in rows],
            "doi": [r[3] for r in rows],
            "duplicate_of": [None] * len(rows),
        },
        schema=RECORDS_SCHEMA,
    )


def test_duplicates_by_pmid_doi_and_title_are_flagged_not_merged() -> None:
    long = "Galactomannan detection for invasive aspergillosis in immunocompromised patients"
    df = _frame(
        [
            ("a", "First study", "111", None),
            ("b", "Second study", None, "10.1/x"),
            ("c", long, None, None),
            ("d", "First study, reprinted", "111", None),  # same PMID
            ("e", "Another title", None, "10.1/x"),  # same DOI
            ("f", long.upper() + ".", None, None),  # same normalised title
            (
                "g",
                long.replace("immunocompromised", "immuno-compromised ") + "s",
                None,
                None,
            ),  # near-identical
            ("h", long.replace("invasive", "chronic"), None, None),  # not near enough
            ("i", "Editorial comment", "7", None),
            ("j", "Editorial comment", "8", None),  # same generic title, different PMIDs: distinct
            ("k", "[In process citation]", None, None),
            ("l", "In process citation.", None, None),  # placeholder titles are not compared
        ]
    )
    out = flag_duplicates(df)
    assert out.height == df.height and out["record_id"].equals(df["record_id"])
    assert dict(zip(out["record_id"], out["duplicate_of"], strict=True)) == {
        **dict.fromkeys("abchijkl"),
        "d": "a",
        "e": "b",
        "f": "c",
        "g": "c",
    }


def test_read_records_flags_duplicates(tmp_path: Path) -> None:
    text = "title,pmid\nA study of things,5\nA study of things,\nOther,5\n"
    df = read_records(_write(tmp_path / "d.csv", text))
    assert df["record_id"].to_list() == ["5", "r2", "r3"]  # a repeated weak id (PMID) gets a generated one
    assert df["duplicate_of"].to_list() == [None, "5", "5"]


def test_flag_duplicates_is_fast_on_20000_records() -> None:
    rng = random.Random(0)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 10))) for _ in range(2000)]
    titles = [" ".join(rng.choices(vocab, k=rng.randint(6, 14))).capitalize() for _ in range(20_000)]
    titles[-1] = titles[5].upper() + "."  # the one duplicate
    rows = [(f"r{i}", t, None, None) for i, t in enumerate(titles)]
    t0 = time.perf_counter()
    out = flag_duplicates(_frame(rows))
    assert time.perf_counter() - t0 < 5
    assert out["duplicate_of"].drop_nulls().to_list() == ["r5"]


# ----------------------------------------------------------------------------- writing and round trips


def _records() -> pl.DataFrame:
    df = _frame(
        [
            ("p1", "Galactomannan in serum", "10000001", "10.1000/a"),
            ("p2", 'Beta-D-glucan, a "fungal" marker; part 2', None, None),
            ("p3", "PCR for Aspergillus", None, "10.1000/c"),
        ]
    )
    return df.with_columns(
        pl.Series("abstract", ["An abstract.", "", 'Another, with commas; and quotes "x".']),
        pl.Series("label", [1, 0, None], dtype=pl.Int8),
    )


@pytest.mark.parametrize("suffix", [".csv", ".ris"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    df = flag_duplicates(_records())
    path = write_records(df, tmp_path / f"out{suffix}")
    assert read_records(path).equals(df)
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]  # atomic: no temporary file left


def test_ris_output_is_plain_ris_asreview_can_read(tmp_path: Path) -> None:
    path = write_records(_records(), tmp_path / "out.ris")
    text = path.read_text()
    assert text.startswith("TY  - JOUR\n") and "\n1.\n" not in text
    entries = rispy.load(path)
    assert entries[0]["keywords"] == ["ASReview_relevant"] and entries[0]["notes"] == ["ASReview_relevant"]
    assert entries[0]["label"] == "1" and entries[1]["keywords"] == ["ASReview_irrelevant"]
    assert "keywords" not in entries[2] and "label" not in entries[2]


def test_write_records_checks_the_frame(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not unique"):
        write_records(pl.concat([_records(), _records()]), tmp_path / "x.csv")
    with pytest.raises(DataError, match="missing column"):
        write_records(_records().drop("doi"), tmp_path / "x.csv")
    with pytest.raises(DataError, match=r"\.csv or \.ris"):
        write_records(_records(), tmp_path / "x.xlsx")
    assert validate_records(_records().select(list(reversed(RECORDS_SCHEMA)))).columns == list(RECORDS_SCHEMA)


TITLES = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=200).filter(
    lambda s: s.strip()
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles=st.lists(TITLES, min_size=1, max_size=5))
def test_ris_round_trip_of_arbitrary_titles(titles: list[str]) -> None:
    n = len(titles)
    df = pl.DataFrame(
        {
            "record_id": [f"id{i}" for i in range(n)],
            "title": titles,
            "abstract": [""] * n,
            "label": [i % 2 for i in range(n)],
            "pmid": [None] * n,
            "doi": [None] * n,
            "duplicate_of": [None] * n,
        },
        schema=RECORDS_SCHEMA,
    )
    with tempfile.TemporaryDirectory() as tmp:
        back = read_records(write_records(df, Path(tmp) / "t.ris"))
    assert back["title"].to_list() == [" ".join(t.split()) for t in titles]
    assert back["label"].to_list() == df["label"].to_list()


def _medline_lines(tag: str, text: str, width: int) -> list[str]:
    """Wrap ``text`` the way PubMed does: first line after ``'TAG - '``, the rest indented by 6 spaces."""
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return [f"{tag:<4}- {lines[0]}", *(f"      {ln}" for ln in lines[1:])]


@settings(max_examples=40, deadline=None)
@given(
    records=st.lists(st.tuples(TITLES, st.text(min_size=0, max_size=300)), min_size=1, max_size=4),
    width=st.integers(10, 80),
)
def test_medline_parser_on_wrapped_titles(records: list[tuple[str, str]], width: int) -> None:
    blocks = []
    for i, (title, abstract) in enumerate(records, start=1):
        lines = [f"PMID- {i}", "OWN - NLM", *_medline_lines("TI", title, width)]
        if abstract.split():
            lines += _medline_lines("AB", abstract, width)
        blocks.append("\n".join(lines))
    with tempfile.TemporaryDirectory() as tmp:
        df = read_records(_write(Path(tmp) / "m.nbib", "\n\n".join(blocks) + "\n"))
    assert df["title"].to_list() == [" ".join(t.split()) for t, _ in records]
    assert df["abstract"].to_list() == [" ".join(a.split()) for _, a in records]
    assert df["pmid"].to_list() == [str(i) for i in range(1, len(records) + 1)]


def test_normalise_doi() -> None:
    assert normalise_doi("https://dx.doi.org/10.1000/ABC") == "10.1000/abc"
    assert normalise_doi("DOI: 10.1000/x [doi]") == "10.1000/x"
    assert normalise_doi("n/a") is None and normalise_doi(None) is None


# ----------------------------------------------------------------------------- reviews (team-kit layout)


def _kit(tmp_path: Path) -> Path:
    root = tmp_path / "kit"
    (root / "reviews").mkdir(parents=True)
    _write(
        root / "topics.csv", 'review_id,title,query\nR1,Review one,"a[tiab]\n\nOR b[tiab]"\nR2,Review two,\n'
    )
    for rid, body in {
        "R1": "R1,101,Title one,Abstract one,1,1\nR1,102,,,0,0\nR1,X3,Title three,,0,\n",
        "R2": "R2,201,Title,Abs,0,\n",
    }.items():
        data = "review_id,doc_id,title,abstract,label,label_final\n" + body
        (root / "reviews" / f"{rid}.csv.gz").write_bytes(gzip.compress(data.encode()))
    return root


def test_load_reviews_on_a_kit_folder(tmp_path: Path) -> None:
    root = _kit(tmp_path)
    r1, r2 = load_reviews(root)
    assert isinstance(r1, Review) and (r1.review_id, r1.title) == ("R1", "Review one")
    assert r1.query == "a[tiab]\n\nOR b[tiab]" and r2.query == ""
    assert r1.records["record_id"].to_list() == ["101", "102", "X3"]
    assert r1.records["pmid"].to_list() == ["101", "102", None]  # doc_id is a PMID when all digits
    assert r1.records["title"][1] == ""  # a PMID-only record is kept: it belongs to the labelled set
    assert r1.label_final is not None and r1.label_final["label_final"].to_list() == [1, 0, None]
    assert r2.label_final is None
    assert [r.review_id for r in load_reviews(root, ["R2"])] == ["R2"]
    with pytest.raises(DataError, match="unknown review id"):
        load_reviews(root, ["R9"])
    one = load_review_dirs([root / "reviews" / "R1.csv.gz"])
    assert one[0].title == "Review one" and one[0].records.equals(r1.records)
    assert [r.review_id for r in load_review_dirs(root)] == ["R1", "R2"]
    with pytest.raises(DataError, match=r"topics\.csv"):
        load_review_dirs(root / "reviews")


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("dataset", "review_id", "docs", "includes", "final"),
    [
        ("clef_tar2017", "CD007394", 2542, 92, 45),
        ("clef_tar2017", "CD010438", 3241, 30, 2),
        ("cohen2006", "cohen2006_ADHD", 851, 84, 20),
        ("cohen2006", "cohen2006_BetaBlockers", 2072, 302, 42),
    ],
)
def test_real_reviews_match_source_counts(
    dataset: str, review_id: str, docs: int, includes: int, final: int
) -> None:
    root = SCREENING / dataset
    if not (root / "topics.csv").is_file():
        pytest.skip(f"real screening data not found at {root}")
    (review,) = load_reviews(root, [review_id])
    recs = review.records
    assert recs.height == docs and int(recs["label"].sum()) == includes
    assert review.label_final is not None and int(review.label_final["label_final"].sum()) == final
    assert recs["record_id"].n_unique() == docs and recs["pmid"].null_count() == 0
    assert recs["label"].null_count() == 0
    if dataset == "clef_tar2017":
        assert review.query.strip() and review.title
    else:
        assert review.query == ""


@pytest.mark.realdata
def test_real_dataset_folder_loads_whole() -> None:
    root = SCREENING / "clef_tar2017"
    if not (root / "topics.csv").is_file():
        pytest.skip(f"real screening data not found at {root}")
    reviews = load_review_dirs([root / "reviews" / "CD008760.csv.gz", root / "reviews" / "CD010705.csv.gz"])
    assert [(r.review_id, r.records.height, int(r.records["label"].sum())) for r in reviews] == [
        ("CD008760", 64, 12),
        ("CD010705", 114, 23),
    ]
    topics = pl.read_csv(root / "topics.csv", infer_schema=False)
    assert reviews[1].title == topics.filter(pl.col("review_id") == "CD010705")["title"][0]
