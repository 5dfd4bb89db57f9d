"""Screening records: read what reviewers export (CSV/TSV/XLSX, RIS, PubMed/MEDLINE), flag duplicates, write back.

The canonical **records frame** (one row per record of a review's Boolean search, in input order):

- ``record_id``    String, unique: from the file's id column/tag, else generated ``r1, r2, ...`` (the 1-based
  record number in the file)
- ``title``        String, whitespace-normalised; ``""`` when the record has none
- ``abstract``     String, whitespace-normalised; ``""`` when the record has none
- ``label``        Int8, nullable: 1 = include, 0 = exclude, null = not screened
- ``pmid``         String, nullable: PubMed id (digits only)
- ``doi``          String, nullable: lowercase, without ``https://doi.org/`` / ``doi:`` prefixes (always ``10.…``)
- ``duplicate_of`` String, nullable: ``record_id`` of the earliest record this one duplicates (same PMID, same DOI
  or near-identical title, see :func:`flag_duplicates`); duplicates are flagged, never merged or dropped

:data:`RECORDS_SCHEMA` holds it; :func:`validate_records` checks a frame against it.

Formats (by extension; ``.gz`` is decompressed first):

- ``.csv`` (``;`` or tab when the header has no comma), ``.tsv``/``.tab``, ``.xlsx``/``.xls`` (first sheet):
  columns matched case-insensitively, ignoring punctuation, against common aliases (:data:`COLUMN_ALIASES`);
  a title column is required. Rows whose cells are all empty are not records.
- ``.ris`` (via ``rispy``): TI/T1 title, AB/N2 abstract, DO doi, ID (else AN) record id, PMID from AN (digits, when
  the record's DB/DP field is absent or names PubMed/MEDLINE) or from a ``PMID: 123`` note/M1/C7 or a PubMed URL;
  label from ``LB`` or ASReview's ``ASReview_relevant``/``ASReview_irrelevant``/``ASReview_not_seen`` marker in
  the keywords (KW) or notes (N1). Unrecognised ``LB`` text is ignored (EndNote uses LB as a free "Label" field).
- ``.nbib``/``.medline`` and ``.txt``: PubMed/MEDLINE text (``PMID- ``, ``TI  - ``, ...); a ``.txt`` that starts
  with ``TY  - `` is read as RIS and one whose header line has tabs as TSV.

Bad input: structural problems (an unreadable file, a RIS line that is not a tag, a RIS record without
``ER  -``, no title column, a broken CSV quote) always raise :class:`DataError` with the file and line. A *bad
record* (no title and no abstract, an unreadable label, a ``record_id`` already used, a row with the wrong
number of cells) raises too, naming the file, the record number (1-based), its line (first line of the record;
for XLSX the sheet row) and the field -- unless ``skip_bad=True``, in which case it is written to a quarantine
CSV and counted (:func:`read_records_report`). Nothing is dropped silently.

Ids from weak sources (RIS ``AN``, a PMID column used as id, MEDLINE ``PMID``) may repeat in merged exports: a
repeat gets the generated id ``r<k>`` instead (its PMID/DOI still mark it as a duplicate). A repeated id from an
explicit id column (``record_id``, ``id``, ``key``, RIS ``ID``) is a bad record.

Files that are not UTF-8 are decoded as Windows-1252 (EndNote's "ANSI"), with a warning.

Reviews in the team-kit layout (``topics.csv`` + ``reviews/<review_id>.csv.gz``): :func:`load_reviews`,
:func:`load_review_dirs`. There ``doc_id`` is the ``record_id`` (and the ``pmid`` when all digits), and records
with neither title nor abstract are kept (e.g. 24 PMID-only records in Cohen's ADHD review): they belong to the
labelled candidate set whose counts the dataset documents.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import re
import sys
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ranksuite.shared.data.atomic import atomic_write, atomic_write_text
from ranksuite.shared.data.errors import DataError

RECORDS_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "title": pl.String(),
    "abstract": pl.String(),
    "label": pl.Int8(),
    "pmid": pl.String(),
    "doi": pl.String(),
    "duplicate_of": pl.String(),
}

QUARANTINE_COLUMNS = [
    "record",
    "line",
    "field",
    "problem",
    "record_id",
    "title",
    "abstract",
    "label",
    "pmid",
    "doi",
]


def _norm_header(name: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", name.replace("\ufeff", "").lower()).split())


# Aliases, best first, compared after lowercasing and turning punctuation/underscores into single spaces.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "ti", "primary title", "article title", "document title", "t1"),
    "abstract": ("abstract", "ab", "abstract note", "notes abstract", "n2"),
    # explicit ids first (a repeat is a bad record), then weak ones (a repeat gets a generated id)
    "record_id": (
        "record id",
        "id",
        "doc id",
        "key",
        "covidence",
        "ref id",
        "accession number",
        "an",
        "ut unique wos id",
        "ut",
        "eid",
        "pmid",
        "pubmed id",
    ),
    "label": (
        "label",
        "included",
        "label included",
        "include",
        "decision",
        "final label",
        "asreview label",
    ),
    "pmid": ("pmid", "pubmed id", "pubmedid", "pm", "pubmed"),
    "doi": ("doi", "di"),
}
_WEAK_ID_ALIASES = {"accession number", "an", "ut unique wos id", "ut", "eid", "pmid", "pubmed id"}

_LABEL_VALUES: dict[str, int | None] = {
    **dict.fromkeys(("1", "1.0", "yes", "y", "true", "t", "include", "included", "relevant"), 1),
    **dict.fromkeys(("0", "0.0", "no", "n", "false", "f", "exclude", "excluded", "irrelevant"), 0),
    **dict.fromkeys(
        (
            "",
            "na",
            "n/a",
            "nan",
            "none",
            "null",
            "-1",
            "-1.0",
            "not seen",
            "not screened",
            "unscreened",
            "unlabeled",
            "unlabelled",
            "asreview_not_seen",
        ),
        None,
    ),
}
_ASREVIEW_MARKER = re.compile(r"\s*(?:<p>)?\s*asreview_(relevant|irrelevant|not_seen)\s*(?:</p>)?\s*", re.I)
_ASREVIEW_LABEL = {"relevant": 1, "irrelevant": 0, "not_seen": None}


# ----------------------------------------------------------------------------- results and records


@dataclass
class ReadResult:
    """What :func:`read_records_report` returns: the records, how many bad records were skipped, and where they went."""

    records: pl.DataFrame
    skipped: int
    quarantine_path: Path | None


@dataclass
class _Raw:
    """One record as parsed, before checks: ``number`` is 1-based, ``line`` the first line (XLSX: sheet row)."""

    number: int
    line: int | None
    title: str = ""
    abstract: str = ""
    record_id: str | None = None
    id_strong: bool = False
    label: int | None = None
    raw_label: str = ""
    pmid: str | None = None
    doi: str | None = None
    problems: list[tuple[str | None, str]] = field(default_factory=list)


def _clean(value: Any) -> str:
    """A cell or tag value as one whitespace-normalised string (lists are joined with spaces)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return " ".join(str(value).split())


def normalise_doi(value: Any) -> str | None:
    """``https://doi.org/10.1000/X`` / ``doi:10.1000/X`` / ``10.1000/X`` -> ``10.1000/x``; None unless it is a DOI."""
    s = _clean(value).lower()
    s = re.sub(r"^(?:https?://)?(?:dx\.)?doi\.org/", "", s)
    s = re.sub(r"^doi\s*:?\s*", "", s)
    s = s.split(" ")[0] if s else s
    return s if s.startswith("10.") and "/" in s else None


def normalise_pmid(value: Any) -> str | None:
    """``12345678``, ``PMID: 12345678`` or ``12345678.0`` (a spreadsheet number) -> ``12345678``; else None."""
    s = _clean(value)
    s = re.sub(r"^(?:pmid|pubmed(?: id)?)\s*:?\s*", "", s, flags=re.I)
    s = re.sub(r"\.0$", "", s)
    return s if s.isdigit() and len(s) <= 9 and int(s) > 0 else None


def _parse_label(raw: str) -> tuple[int | None, bool]:
    """(label, understood)."""
    key = raw.strip().lower()
    if key in _LABEL_VALUES:
        return _LABEL_VALUES[key], True
    return None, False


# ----------------------------------------------------------------------------- reading: entry points


def read_records(path: str | Path, *, skip_bad: bool = False, quarantine: Path | None = None) -> pl.DataFrame:
    """Read a records file (see the module docstring for formats) into the canonical records frame.

    A bad record raises :class:`DataError` naming file, record number, line and field, unless ``skip_bad``: then
    it goes to ``quarantine`` (default ``<file>.quarantine.csv`` beside the input) and
    :func:`read_records_report` says how many. Duplicates are flagged (:func:`flag_duplicates`).
    """
    return read_records_report(path, skip_bad=skip_bad, quarantine=quarantine).records


def read_records_report(
    path: str | Path, *, skip_bad: bool = False, quarantine: Path | None = None
) -> ReadResult:
    """Like :func:`read_records`, also returning the number of skipped bad records and the quarantine file.

    The quarantine CSV (columns :data:`QUARANTINE_COLUMNS`) is written when records were skipped, or always when
    ``quarantine`` is given (then possibly with a header only, so no stale file survives a clean re-run).
    """
    p = Path(path)
    raws = _parse_file(p)
    return _finalise(p, raws, skip_bad=skip_bad, quarantine=quarantine)


def _parse_file(p: Path) -> list[_Raw]:
    if not p.is_file():
        raise DataError(p, "file not found" if not p.exists() else "not a file")
    name = p.name.lower()
    base = name[:-3] if name.endswith(".gz") else name
    if base.endswith(".csv"):
        return _parse_delimited(p, _read_text(p), None)
    if base.endswith((".tsv", ".tab")):
        return _parse_delimited(p, _read_text(p), "\t")
    if base.endswith((".xlsx", ".xls")):
        if name.endswith(".gz"):
            raise DataError(p, "gzip'd spreadsheets are not supported: decompress it first")
        return _parse_excel(p)
    if base.endswith(".ris"):
        return _parse_ris(p, _read_text(p))
    if base.endswith((".nbib", ".medline")):
        return _parse_medline(p, _read_text(p))
    if base.endswith(".txt"):
        text = _read_text(p)
        first = next((ln for ln in text.split("\n") if ln.strip()), "")
        if _RIS_TAG.match(first.rstrip()) and first.startswith("TY"):
            return _parse_ris(p, text)
        if _medline_tag(first) is not None:
            return _parse_medline(p, text)
        if "\t" in first:
            return _parse_delimited(p, text, "\t")
        raise DataError(
            p,
            "unrecognised .txt file: expected PubMed/MEDLINE text ('PMID- ...'), RIS ('TY  - ...') "
            "or a tab-separated table with a header line",
            line=1,
        )
    raise DataError(
        p,
        "unsupported file type: use .csv, .tsv, .xlsx, .ris, .nbib/.medline/.txt (PubMed format), "
        "optionally .gz",
    )


def _read_text(p: Path) -> str:
    """The file's text (gunzipped for ``.gz``), UTF-8 (BOM allowed) or else Windows-1252, with ``\\n`` newlines."""
    try:
        data = gzip.decompress(p.read_bytes()) if p.name.lower().endswith(".gz") else p.read_bytes()
    except (OSError, EOFError) as exc:
        raise DataError(p, f"cannot read the file ({exc})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc2:
            raise DataError(
                p, "neither UTF-8 nor Windows-1252 text: re-export it as UTF-8", line=line
            ) from exc2
        warnings.warn(
            f"{p}: not UTF-8 (first bad byte on line {line}); read as Windows-1252", UserWarning, stacklevel=3
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ----------------------------------------------------------------------------- tables: CSV / TSV / XLSX


def _match_columns(p: Path, header: list[str], *, line: int | None) -> dict[str, tuple[int, str]]:
    """role -> (column index, matched alias); raises when there is no title column."""
    normed = [_norm_header(h) for h in header]
    found: dict[str, tuple[int, str]] = {}
    for role, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in normed:
                found[role] = (normed.index(alias), alias)
                break
    if "title" not in found:
        raise DataError(
            p,
            f"no title column (looked for {', '.join(COLUMN_ALIASES['title'])}, any case); "
            f"the columns are: {', '.join(h for h in header if h) or '(none)'}",
            line=line,
            field="title",
        )
    return found


def _rows_to_raws(
    p: Path, header: list[str], rows: Iterable[tuple[int | None, list[str]]], *, header_line: int | None
) -> list[_Raw]:
    cols = _match_columns(p, header, line=header_line)
    width = len(header)

    def cell(row: list[str], role: str) -> str:
        if role not in cols:
            return ""
        i = cols[role][0]
        return row[i] if i < len(row) else ""

    id_strong = "record_id" in cols and cols["record_id"][1] not in _WEAK_ID_ALIASES
    raws: list[_Raw] = []
    for line, row in rows:
        if not any(c.strip() for c in row):
            continue  # an empty row is not a record
        r = _Raw(number=len(raws) + 1, line=line)
        if len(row) > width and any(c.strip() for c in row[width:]):
            r.problems.append((None, f"{len(row)} cells but the header has {width} (a stray delimiter?)"))
        elif len(row) < width:
            r.problems.append((None, f"{len(row)} cells but the header has {width} (a broken line?)"))
        r.title = _clean(cell(row, "title"))
        r.abstract = _clean(cell(row, "abstract"))
        rid = _clean(cell(row, "record_id"))
        if rid.endswith(".0") and rid[:-2].isdigit():  # a spreadsheet number
            rid = rid[:-2]
        r.record_id, r.id_strong = (rid or None), id_strong
        r.raw_label = _clean(cell(row, "label"))
        r.label, ok = _parse_label(r.raw_label)
        if not ok:
            r.problems.append(
                (
                    "label",
                    f"unrecognised label {r.raw_label!r} (use 1/0, yes/no, include/exclude, true/false)",
                )
            )
        r.pmid = normalise_pmid(cell(row, "pmid"))
        r.doi = normalise_doi(cell(row, "doi"))
        raws.append(r)
    return raws


def _parse_delimited(p: Path, text: str, delimiter: str | None) -> list[_Raw]:
    if not text.strip():
        raise DataError(p, "empty file (no header line)", line=1)
    first = next(ln for ln in text.split("\n") if ln.strip())
    if delimiter is None:  # .csv: comma, unless the header clearly uses ';' or tabs (European Excel exports)
        delimiter = ","
        if "," not in first:
            delimiter = "\t" if "\t" in first else (";" if ";" in first else ",")
    _raise_csv_field_limit()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 1
    rows: list[tuple[int | None, list[str]]] = []
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(
                p, f"broken CSV quoting in the row starting on line {start} ({exc})", line=start
            ) from exc
        end = reader.line_num
        if header is None:
            if not any(c.strip() for c in row):
                continue
            header, header_line = row, start
            continue
        rows.append((start, row))
    if header is None:
        raise DataError(p, "no header line (every row is empty)", line=1)
    return _rows_to_raws(p, header, rows, header_line=header_line)


def _raise_csv_field_limit() -> None:
    limit = csv.field_size_limit()
    if limit < 64 * 1024 * 1024:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _parse_excel(p: Path) -> list[_Raw]:
    try:
        df = pl.read_excel(p, sheet_id=1, infer_schema_length=0, drop_empty_rows=False, raise_if_empty=False)
    except ImportError as exc:
        raise DataError(p, f"cannot read spreadsheets: {exc} (install fastexcel)") from exc
    except Exception as exc:  # the engines raise their own types for broken files
        raise DataError(p, f"not a readable spreadsheet ({type(exc).__name__}: {exc})") from exc
    header = [str(c) for c in df.columns]
    header = ["" if h.startswith("__UNNAMED__") else h for h in header]
    rows = ((i + 2, ["" if v is None else str(v) for v in values]) for i, values in enumerate(df.iter_rows()))
    return _rows_to_raws(p, header, rows, header_line=1)


# ----------------------------------------------------------------------------- RIS


_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
# uppercase tags with the wrong spacing ("TI - x", "TI- x", "TI  -x"), or lowercase tags in the right one
_RIS_BROKEN_TAG = re.compile(r"^(?:[A-Z][A-Z0-9](?: {1,3}-| ?-\s)|[a-z][a-z0-9]  - )")
_RIS_PREAMBLE = re.compile(r"^\s*(?:\d+\.?|[A-Za-z][\w ./()-]*:.*)\s*$")  # "1." numbering, "Provider: ..."
_PUBMED_URL = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/)(\d{1,9})\b")
_PMID_NOTE = re.compile(r"^\s*(?:PMID|PubMed ID|PubMed)\s*:?\s*(\d{1,9})\s*$", re.I)


def _parse_ris(p: Path, text: str) -> list[_Raw]:
    import rispy

    lines = text.split("\n")
    blocks: list[tuple[int, list[str]]] = []  # (line of TY, the record's non-blank lines, TY..ER)
    current: list[str] | None = None
    start = 0
    seen_record = False
    last_er = 0
    for i, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        m = _RIS_TAG.match(line)
        if current is None:
            if m and m.group(1) == "TY":
                current, start, seen_record = [line], i, True
                continue
            if m:
                raise DataError(
                    p,
                    f"tag '{m.group(1)}' outside a record"
                    + (f" (the record before ended with 'ER  -' on line {last_er})" if last_er else "")
                    + ": every record starts with 'TY  - '",
                    line=i,
                    field=m.group(1),
                )
            if not seen_record and _RIS_PREAMBLE.match(line):
                continue  # header lines some databases write before the first record
            if seen_record and re.fullmatch(r"\s*\d+\.?\s*", line):
                continue  # rispy's own "1." record numbers
            raise DataError(
                p, f"not a RIS tag line (expected 'TY  - ' to start a record): {line[:60]!r}", line=i
            )
        if m:
            tag = m.group(1)
            if tag == "TY":
                raise DataError(
                    p,
                    f"a new record starts but the record from line {start} has no 'ER  -' end tag",
                    line=i,
                    field="ER",
                )
            current.append(line)
            if tag == "ER":
                blocks.append((start, current))
                current, last_er = None, i
            continue
        looks_like_tag = line[2:5] == "  -" and line[:2].isupper() and line[:1].isalpha()
        if _RIS_BROKEN_TAG.match(line) or looks_like_tag:
            raise DataError(
                p,
                f"not a RIS tag line (tags are 'XX  - value': two spaces, '-', a space): {line[:60]!r}",
                line=i,
            )
        if len(current) == 1:
            raise DataError(p, f"not a RIS tag line (nothing to continue after 'TY'): {line[:60]!r}", line=i)
        current.append(line)  # a continuation of the previous tag's value (some exporters wrap long fields)
    if current is not None:
        raise DataError(
            p, f"the record starting on line {start} has no 'ER  -' end tag", line=start, field="ER"
        )
    if not blocks:
        raise DataError(p, "no RIS record found (records start with 'TY  - ' and end with 'ER  -')", line=1)

    entries = rispy.loads("\n".join(ln for _, block in blocks for ln in block))
    if len(entries) != len(blocks):  # cannot happen after the checks above; guard rispy changes
        raise DataError(p, f"rispy read {len(entries)} records where {len(blocks)} were found")
    return [
        _ris_entry(n, line, e) for n, ((line, _), e) in enumerate(zip(blocks, entries, strict=True), start=1)
    ]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _ris_entry(number: int, line: int, e: dict[str, Any]) -> _Raw:
    r = _Raw(number=number, line=line)
    r.title = _clean(e.get("title")) or _clean(e.get("primary_title"))
    r.abstract = _clean(e.get("abstract")) or _clean(e.get("notes_abstract"))
    r.doi = normalise_doi(e.get("doi"))
    urls = _as_list(e.get("urls"))
    if r.doi is None:
        r.doi = next((d for u in urls if "doi.org/" in u.lower() and (d := normalise_doi(u))), None)
    rid, an = _clean(e.get("id")), _clean(e.get("accession_number"))
    if rid:
        r.record_id, r.id_strong = rid, True
    elif an:
        r.record_id, r.id_strong = an, False
    # PMID: AN when digits and the database (if named) is PubMed/MEDLINE; else a clear "PMID: n" or a PubMed URL
    source = (_clean(e.get("name_of_database")) + " " + _clean(e.get("database_provider"))).lower()
    if an.isdigit() and (not source.strip() or "pubmed" in source or "medline" in source):
        r.pmid = normalise_pmid(an)
    if r.pmid is None:
        for v in [_clean(e.get("note")), _clean(e.get("custom7")), *_as_list(e.get("notes"))]:
            if m := _PMID_NOTE.match(v):
                r.pmid = normalise_pmid(m.group(1))
                break
    if r.pmid is None:
        r.pmid = next((m.group(1) for u in urls if (m := _PUBMED_URL.search(u))), None)
    # label: ASReview's marker (keywords or notes), and/or LB
    markers = {
        _ASREVIEW_LABEL[m.group(1).lower()]
        for v in _as_list(e.get("keywords")) + _as_list(e.get("notes"))
        if (m := _ASREVIEW_MARKER.fullmatch(v))
    }
    lb = _clean(e.get("label"))
    lb_value, lb_ok = _parse_label(lb) if lb else (None, False)
    values = markers | ({lb_value} if lb_ok and lb else set())
    r.raw_label = lb if lb else ";".join(str(v) for v in sorted(markers, key=str))
    if len(values) > 1:
        r.problems.append(
            ("label", f"conflicting labels (LB {lb!r}, ASReview markers {sorted(markers, key=str)})")
        )
    elif values:
        r.label = next(iter(values))
    return r


# ----------------------------------------------------------------------------- PubMed / MEDLINE


def _medline_tag(line: str) -> tuple[str, str] | None:
    """``'TI  - text'`` -> ``('TI', 'text')``; the tag is 1-4 characters left-justified in 4, then ``'- '``."""
    if len(line) >= 5 and line[4] == "-" and (len(line) == 5 or line[5] == " "):
        tag = line[:4].rstrip()
        if (
            re.fullmatch(r"[A-Z][A-Z0-9]{1,3}", tag)
            and line[: len(tag)] == tag
            and line[len(tag) : 4].strip() == ""
        ):
            return tag, line[6:].strip()
    return None


def _parse_medline(p: Path, text: str) -> list[_Raw]:
    records: list[tuple[int, dict[str, list[str]]]] = []
    fields: dict[str, list[str]] | None = None
    last: str | None = None
    for i, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        if not line.strip():
            fields, last = None, None
            continue
        tagged = _medline_tag(line)
        if tagged is not None:
            tag, value = tagged
            if fields is None or (tag == "PMID" and "PMID" in fields):
                fields = {}
                records.append((i, fields))
            fields.setdefault(tag, []).append(value)
            last = tag
        elif line.startswith("      ") and fields is not None and last is not None:
            fields[last][-1] = (fields[last][-1] + " " + line.strip()).strip()
        elif line.startswith("      "):
            raise DataError(
                p, "continuation line (6 spaces) with no tag line before it in this record", line=i
            )
        else:
            raise DataError(
                p,
                f"not a MEDLINE line: expected 'TAG - value' (tag padded to 4 characters) or a continuation "
                f"indented by 6 spaces: {line[:60]!r}",
                line=i,
            )
    if not records:
        raise DataError(p, "no PubMed/MEDLINE record found (records start with 'PMID- ')", line=1)
    raws = []
    for n, (line, f) in enumerate(records, start=1):
        r = _Raw(number=n, line=line)
        r.title = _clean((f.get("TI") or f.get("BTI") or [""])[0])
        r.abstract = _clean(" ".join(f.get("AB", [])))
        pmid_raw = (f.get("PMID") or [""])[0]
        r.pmid = normalise_pmid(pmid_raw)
        if pmid_raw and r.pmid is None:
            r.problems.append(("PMID", f"not a PubMed id: {pmid_raw!r}"))
        r.record_id, r.id_strong = r.pmid, False
        for v in f.get("LID", []) + f.get("AID", []):
            if v.endswith("[doi]") and (d := normalise_doi(v[: -len("[doi]")])):
                r.doi = d
                break
        raws.append(r)
    return raws


# ----------------------------------------------------------------------------- checks, ids, quarantine


def _finalise(
    p: Path,
    raws: list[_Raw],
    *,
    skip_bad: bool,
    quarantine: Path | None,
    allow_no_text: bool = False,
) -> ReadResult:
    strong_ids = {r.record_id for r in raws if r.record_id and r.id_strong}
    used: set[str] = set()
    good: list[_Raw] = []
    bad: list[tuple[_Raw, str | None, str]] = []
    for r in raws:
        problems = list(r.problems)
        if not allow_no_text and not r.title and not r.abstract:
            problems.append(("title/abstract", "the record has neither a title nor an abstract"))
        rid = r.record_id
        if rid is not None and rid in used:
            if r.id_strong:
                problems.append(("record_id", f"record_id {rid!r} is used by an earlier record"))
            else:
                rid = None  # a weak id repeated (merged exports): generate one
        if rid is None:
            rid = f"r{r.number}"
            if rid in used or rid in strong_ids:
                problems.append(
                    ("record_id", f"no id, and the generated id {rid!r} is taken by another record")
                )
        if problems:
            fld, what = problems[0]
            if not skip_bad:
                where = f"record {r.number}" + (f" (sheet row {r.line})" if _is_sheet(p) else "")
                raise DataError(p, f"{where}: {what}", line=None if _is_sheet(p) else r.line, field=fld)
            bad.append((r, fld, what))
            continue
        r.record_id = rid
        used.add(rid)
        good.append(r)
    df = pl.DataFrame(
        {
            "record_id": [r.record_id for r in good],
            "title": [r.title for r in good],
            "abstract": [r.abstract for r in good],
            "label": [r.label for r in good],
            "pmid": [r.pmid for r in good],
            "doi": [r.doi for r in good],
            "duplicate_of": [None] * len(good),
        },
        schema=RECORDS_SCHEMA,
    )
    df = flag_duplicates(df)
    qpath: Path | None = None
    if skip_bad and (bad or quarantine is not None):
        qpath = Path(quarantine) if quarantine is not None else p.with_name(p.name + ".quarantine.csv")
        _write_quarantine(qpath, bad)
    return ReadResult(records=df, skipped=len(bad), quarantine_path=qpath)


def _is_sheet(p: Path) -> bool:
    return p.name.lower().endswith((".xlsx", ".xls"))


def _write_quarantine(path: Path, bad: list[tuple[_Raw, str | None, str]]) -> None:
    q = pl.DataFrame(
        {
            "record": [r.number for r, _, _ in bad],
            "line": [r.line for r, _, _ in bad],
            "field": [f for _, f, _ in bad],
            "problem": [w for _, _, w in bad],
            "record_id": [r.record_id for r, _, _ in bad],
            "title": [r.title for r, _, _ in bad],
            "abstract": [r.abstract for r, _, _ in bad],
            "label": [r.raw_label for r, _, _ in bad],
            "pmid": [r.pmid for r, _, _ in bad],
            "doi": [r.doi for r, _, _ in bad],
        },
        schema={
            "record": pl.Int64,
            "line": pl.Int64,
            "field": pl.String,
            "problem": pl.String,
            **{c: pl.String for c in QUARANTINE_COLUMNS[4:]},
        },
    )
    atomic_write(path, lambda tmp: q.write_csv(tmp))


def validate_records(df: pl.DataFrame, source: str | Path = "<records frame>") -> pl.DataFrame:
    """Check that ``df`` is a canonical records frame (columns, dtypes, unique non-empty ids); return it in order."""
    missing = [c for c in RECORDS_SCHEMA if c not in df.columns]
    if missing:
        raise DataError(
            source, f"not a records frame: missing column(s) {', '.join(missing)}", field=missing[0]
        )
    for col, dtype in RECORDS_SCHEMA.items():
        if df.schema[col] != dtype:
            raise DataError(source, f"expected dtype {dtype}, got {df.schema[col]}", field=col)
    ids = df["record_id"]
    if ids.null_count() or (ids == "").any():
        raise DataError(source, "record_id is empty for some records", field="record_id")
    if ids.n_unique() != df.height:
        dup = ids.filter(ids.is_duplicated()).first()
        raise DataError(source, f"record_id {dup!r} is not unique", field="record_id")
    bad_label = df["label"].drop_nulls()
    if not bad_label.is_in([0, 1]).all():
        raise DataError(source, "label must be 1, 0 or null", field="label")
    return df.select(list(RECORDS_SCHEMA))


# ----------------------------------------------------------------------------- duplicates

_PLACEHOLDER_TITLES = {"inprocesscitation", "notavailable", "untitled", "notitle", "notitleavailable"}
_BUCKET = 20
_MIN_FUZZY = 30
_FUZZY_RATIO = 0.95


def normalise_title(title: str) -> str:
    """Lowercase, accents and punctuation/whitespace removed: the key near-identical titles are compared on."""
    s = unicodedata.normalize("NFKD", title.lower())
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "", s)


def flag_duplicates(df: pl.DataFrame) -> pl.DataFrame:
    """Set ``duplicate_of`` to the ``record_id`` of the earliest record each record duplicates (null otherwise).

    Records are duplicates when they share a PMID, share a DOI, or have near-identical titles: equal after
    :func:`normalise_title`, or both at least 30 normalised characters with a ``difflib`` ratio >= 0.95 (compared
    only within buckets of equal first or last 20 characters, so 20,000 records take well under a second). A title
    match does not count when both records have PMIDs that differ or DOIs that differ (distinct publications
    that share a generic title such as "Editorial comment"), nor for placeholder titles ("[In Process Citation]").
    ``duplicate_of`` always names a record that is itself not a duplicate. Nothing is merged or dropped; any
    existing ``duplicate_of`` values are replaced.
    """
    n = df.height
    ids = df["record_id"].to_list()
    pmids = df["pmid"].to_list()
    dois = df["doi"].to_list()
    titles = [normalise_title(t or "") for t in df["title"].to_list()]
    root: list[int] = list(range(n))
    by_pmid: dict[str, int] = {}
    by_doi: dict[str, int] = {}
    by_title: dict[str, list[int]] = defaultdict(list)
    heads: dict[str, list[int]] = defaultdict(list)
    tails: dict[str, list[int]] = defaultdict(list)

    def conflict(i: int, j: int) -> bool:
        return bool(
            (pmids[i] and pmids[j] and pmids[i] != pmids[j]) or (dois[i] and dois[j] and dois[i] != dois[j])
        )

    for i in range(n):
        cands: list[int] = []
        if pmids[i] and pmids[i] in by_pmid:
            cands.append(by_pmid[pmids[i]])
        if dois[i] and dois[i] in by_doi:
            cands.append(by_doi[dois[i]])
        t = titles[i]
        use_title = bool(t) and t not in _PLACEHOLDER_TITLES
        if use_title:
            cands.extend(j for j in by_title.get(t, ()) if not conflict(i, j))
            if len(t) >= _MIN_FUZZY:
                for j in _fuzzy_candidates(t, heads, tails, titles):
                    if not conflict(i, j):
                        cands.append(j)
        if cands:
            root[i] = min(root[j] for j in cands)
        r = root[i]
        if pmids[i]:
            by_pmid.setdefault(pmids[i], r)
        if dois[i]:
            by_doi.setdefault(dois[i], r)
        if use_title:
            by_title[t].append(i)
            if len(t) >= _MIN_FUZZY:
                heads[t[:_BUCKET]].append(i)
                tails[t[-_BUCKET:]].append(i)
    dup = [ids[root[i]] if root[i] != i else None for i in range(n)]
    return df.with_columns(pl.Series("duplicate_of", dup, dtype=pl.String))


def _fuzzy_candidates(
    t: str, heads: dict[str, list[int]], tails: dict[str, list[int]], titles: list[str]
) -> Iterator[int]:
    seen: set[int] = set()
    for j in (*heads.get(t[:_BUCKET], ()), *tails.get(t[-_BUCKET:], ())):
        if j in seen:
            continue
        seen.add(j)
        u = titles[j]
        if u == t:
            continue  # exact matches are handled by the caller
        if 2 * min(len(t), len(u)) / (len(t) + len(u)) < _FUZZY_RATIO:
            continue
        sm = difflib.SequenceMatcher(None, t, u, autojunk=False)
        if (
            sm.real_quick_ratio() >= _FUZZY_RATIO
            and sm.quick_ratio() >= _FUZZY_RATIO
            and sm.ratio() >= _FUZZY_RATIO
        ):
            yield j


# ----------------------------------------------------------------------------- writing


def write_records(df: pl.DataFrame, path: str | Path) -> Path:
    """Write a records frame to ``.csv`` (the canonical columns, then any extra columns) or ``.ris``, atomically.

    RIS: ``ID`` record_id, ``TI``, ``AB``, ``DO``, ``AN`` pmid, and a label as ``LB  - 1|0`` plus ASReview's marker
    ``ASReview_relevant``/``ASReview_irrelevant`` in ``KW`` and ``N1`` (ASReview reads it from the notes).
    Unscreened records get no label. ``duplicate_of`` is not written to RIS (it is recomputed on reading).
    """
    p = Path(path)
    extras = [c for c in df.columns if c not in RECORDS_SCHEMA]  # e.g. rank and score of a ranked file
    canonical = validate_records(df, p)
    name = p.name.lower()
    if name.endswith(".csv"):
        out = pl.concat([canonical, df.select(extras)], how="horizontal") if extras else canonical
        return atomic_write(p, lambda tmp: out.write_csv(tmp))
    if name.endswith(".ris"):
        return atomic_write_text(p, records_to_ris(df))
    raise DataError(p, "write_records writes .csv or .ris")


def records_to_ris(df: pl.DataFrame) -> str:
    """The RIS text of a (validated) records frame, as ``write_records`` writes it."""
    import rispy
    from rispy.writer import RisWriter

    class _Writer(RisWriter):
        def set_header(self, count: int) -> str:  # no "1." lines: plain RIS as reference managers write it
            return ""

    entries = []
    for rec in df.iter_rows(named=True):
        e: dict[str, Any] = {"type_of_reference": "JOUR", "id": _one_line(rec["record_id"])}
        if rec["title"]:
            e["title"] = _one_line(rec["title"])
        if rec["abstract"]:
            e["abstract"] = _one_line(rec["abstract"])
        if rec["doi"]:
            e["doi"] = _one_line(rec["doi"])
        if rec["pmid"]:
            e["accession_number"] = _one_line(rec["pmid"])
        if rec["label"] is not None:
            marker = "ASReview_relevant" if rec["label"] == 1 else "ASReview_irrelevant"
            e["label"] = str(rec["label"])
            e["keywords"] = [marker]
            e["notes"] = [marker]
        entries.append(e)
    return rispy.dumps(entries, implementation=_Writer)


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


# ----------------------------------------------------------------------------- reviews (team-kit layout)


@dataclass
class Review:
    """One systematic review: its topic (title, Boolean query, possibly empty) and its candidate records.

    ``label_final`` (``record_id``, ``label_final`` Int8 nullable) holds the full-text inclusion decisions where
    the dataset has them, else None.
    """

    review_id: str
    title: str
    query: str
    records: pl.DataFrame
    label_final: pl.DataFrame | None = None


def _read_topics(topics: Path) -> dict[str, tuple[str, str]]:
    """review_id -> (title, query), in file order."""
    if not topics.is_file():
        raise DataError(topics, "file not found (a screening dataset folder has topics.csv and reviews/)")
    try:
        df = pl.read_csv(topics, infer_schema=False)
    except Exception as exc:
        raise DataError(topics, f"not a readable CSV ({exc})") from exc
    for col in ("review_id", "title", "query"):
        if col not in df.columns:
            raise DataError(topics, "missing column (expected review_id,title,query)", line=1, field=col)
    out: dict[str, tuple[str, str]] = {}
    for i, (rid, title, query) in enumerate(df.select("review_id", "title", "query").iter_rows()):
        if not rid:
            raise DataError(topics, f"topic {i + 1}: empty review_id", field="review_id")
        out[rid] = (title or "", query or "")
    return out


def _read_review_file(path: Path, review_id: str, title: str, query: str) -> Review:
    raws = _parse_file(path)
    for r in raws:  # the kit's doc_id is a PubMed id wherever it is all digits
        if r.pmid is None and r.record_id and r.record_id.isdigit():
            r.pmid = normalise_pmid(r.record_id)
    # the kit keeps records that have only a PubMed id (no title, no abstract): they are part of the labelled set
    records = _finalise(path, raws, skip_bad=False, quarantine=None, allow_no_text=True).records
    extra = pl.read_csv(path, infer_schema=False)
    if "review_id" in extra.columns:
        other = extra["review_id"].drop_nulls().unique().to_list()
        if [x for x in other if x != review_id]:
            raise DataError(
                path, f"rows of review(s) {other} in the file of review {review_id!r}", field="review_id"
            )
    label_final = None
    if {"doc_id", "label_final"} <= set(extra.columns) and extra["label_final"].drop_nulls().len():
        final = {d: _parse_label(v or "")[0] for d, v in extra.select("doc_id", "label_final").iter_rows()}
        label_final = pl.DataFrame(
            {"record_id": records["record_id"], "label_final": [final.get(i) for i in records["record_id"]]},
            schema={"record_id": pl.String, "label_final": pl.Int8},
        )
    return Review(review_id=review_id, title=title, query=query, records=records, label_final=label_final)


def load_reviews(root: str | Path, ids: list[str] | None = None) -> list[Review]:
    """Load the reviews of a dataset folder (``topics.csv`` + ``reviews/<review_id>.csv.gz``), in topics order.

    ``record_id`` = ``doc_id``; ``pmid`` = ``doc_id`` where it is all digits. ``ids`` selects reviews (in the order
    given); an unknown id raises DataError listing the known ones.
    """
    root = Path(root)
    topics = _read_topics(root / "topics.csv")
    wanted = list(topics) if ids is None else list(ids)
    unknown = [i for i in wanted if i not in topics]
    if unknown:
        raise DataError(
            root / "topics.csv", f"unknown review id(s) {', '.join(unknown)}; known: {', '.join(topics)}"
        )
    out = []
    for rid in wanted:
        title, query = topics[rid]
        out.append(_read_review_file(_review_path(root, rid), rid, title, query))
    return out


def _review_path(root: Path, review_id: str) -> Path:
    for suffix in (".csv.gz", ".csv"):
        p = root / "reviews" / f"{review_id}{suffix}"
        if p.is_file():
            return p
    raise DataError(root / "reviews" / f"{review_id}.csv.gz", "review file not found")


def load_review_dirs(paths: str | Path | Sequence[str | Path]) -> list[Review]:
    """Load reviews from dataset folders (with ``topics.csv``) and/or single ``reviews/<id>.csv.gz`` files.

    For a single file the topic comes from ``../topics.csv`` beside its ``reviews/`` folder when that names it;
    otherwise the title is the review id and the query empty.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Review] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            if not (p / "topics.csv").is_file():
                raise DataError(p, "not a screening dataset folder: no topics.csv (and reviews/<id>.csv.gz)")
            out.extend(load_reviews(p))
        elif p.is_file() and p.name.lower().endswith((".csv.gz", ".csv")):
            rid = re.sub(r"\.csv(\.gz)?$", "", p.name, flags=re.I)
            title, query = rid, ""
            topics = p.parent.parent / "topics.csv"
            if p.parent.name == "reviews" and topics.is_file():
                title, query = _read_topics(topics).get(rid, (rid, ""))
            out.append(_read_review_file(p, rid, title, query))
        else:
            raise DataError(
                p,
                "not found" if not p.exists() else "expected a dataset folder or a reviews/<id>.csv.gz file",
            )
    return out
