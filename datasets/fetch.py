"""Fetch recipes: get the official copy of a public IR collection onto *your* machine, in BEIR layout.

ranksuite never downloads anything on its own, and tests never touch the network. These recipes are for a user who
wants the collections on a machine with internet access (this team reads its copies from ``../shared/data/ir``).

``fetch(name, dest)`` writes ``dest/<name>/`` (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``):

- BEIR collections (``scifact``, ``nfcorpus``): the BEIR zip is downloaded, its md5 checked against the one BEIR
  publishes, and it is extracted into a temporary folder that is renamed into place only when complete.
- Glasgow test collections (``cranfield``, ``cisi``): the ``.tar.gz`` archive of the raw SMART-format files is
  downloaded and converted to BEIR layout (:func:`parse_smart`, :func:`parse_cranqrel`, :func:`parse_cisi_rel`).

Without network, :class:`FetchError` says which URL to download by hand and where to put the file; ``fetch`` then
uses that file (``dest/<archive name>`` or ``source=``) instead of downloading.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ranksuite.shared.data.errors import DataError

#: progress(bytes_done, bytes_total_or_None), called while downloading
Progress = Callable[[int, int | None], None]

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"
GLASGOW_PAGE = "http://ir.dcs.gla.ac.uk/resources/test_collections/{short}/"
QRELS_HEADER = "query-id\tcorpus-id\tscore\n"
CHUNK = 1 << 16


class FetchError(RuntimeError):
    """A collection could not be fetched (no network, bad checksum, unexpected archive). One line, with advice."""


@dataclass(frozen=True)
class Recipe:
    """Where a collection's official copy lives and how it becomes a BEIR folder."""

    name: str
    kind: str  # "beir-zip" | "glasgow-smart"
    url: str  # the archive to download
    page: str  # the human-readable page that links it
    archive: str  # file name of the archive (what to save a manual download as)
    md5: str | None  # md5 of the archive, None when no published value is known
    md5_source: str
    licence: str
    citation: str
    description: str
    # glasgow-smart only: the SMART files inside the archive, in the order docs, queries, qrels
    raw_files: tuple[str, ...] = ()

    @property
    def card(self) -> Path:
        return Path(__file__).resolve().parent / "cards" / f"{self.name}.md"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "page": self.page,
            "archive": self.archive,
            "md5": self.md5,
            "md5_source": self.md5_source,
            "licence": self.licence,
            "citation": self.citation,
            "description": self.description,
            "card": f"datasets/cards/{self.name}.md",
        }


RECIPES: dict[str, Recipe] = {
    "scifact": Recipe(
        name="scifact",
        kind="beir-zip",
        url=BEIR_URL.format(name="scifact"),
        page="https://github.com/beir-cellar/beir",
        archive="scifact.zip",
        md5="5f7d1de60b170fc8027bb7898e2efca1",
        md5_source="BEIR README, datasets table",
        licence="CC BY-NC 2.0 (SciFact; non-commercial)",
        citation="Wadden et al., Fact or Fiction: Verifying Scientific Claims, EMNLP 2020; Thakur et al., BEIR, "
        "NeurIPS 2021 Datasets and Benchmarks",
        description="scientific claims vs PubMed abstracts (5,183 docs; test 300 queries)",
    ),
    "nfcorpus": Recipe(
        name="nfcorpus",
        kind="beir-zip",
        url=BEIR_URL.format(name="nfcorpus"),
        page="https://github.com/beir-cellar/beir",
        archive="nfcorpus.zip",
        md5="a89dba18a62ef92f7d323ec890a0d38d",
        md5_source="BEIR README, datasets table",
        licence="academic use only (NFCorpus README; NutritionFacts.org terms for other uses)",
        citation="Boteva et al., A Full-Text Learning to Rank Dataset for Medical Information Retrieval, ECIR 2016; "
        "Thakur et al., BEIR, NeurIPS 2021 Datasets and Benchmarks",
        description="NutritionFacts.org questions vs PubMed articles (BEIR copy: 3,633 docs; test 323 queries)",
    ),
    "cranfield": Recipe(
        name="cranfield",
        kind="glasgow-smart",
        url=GLASGOW_PAGE.format(short="cran") + "cran.tar.gz",
        page=GLASGOW_PAGE.format(short="cran"),
        archive="cran.tar.gz",
        md5="1730f7be572d95a5a4b56c59a7b900a5",
        md5_source="ir_datasets (cranfield resource hash); same value as the mirror copy in shared/data SOURCE.md",
        licence="none stated (University of Glasgow IR test collections; research use)",
        citation="Cleverdon, The Cranfield tests on index language devices, Aslib Proceedings 19(6), 1967",
        description="aerodynamics abstracts (1,400 docs; 225 queries, graded 1-4)",
        raw_files=("cran.all.1400", "cran.qry", "cranqrel"),
    ),
    "cisi": Recipe(
        name="cisi",
        kind="glasgow-smart",
        url=GLASGOW_PAGE.format(short="cisi") + "cisi.tar.gz",
        page=GLASGOW_PAGE.format(short="cisi"),
        archive="cisi.tar.gz",
        md5=None,
        md5_source="none published; a mirror copy's md5 is in shared/data/ir/cisi/SOURCE.md but is not confirmed "
        "against the Glasgow server, so it is not enforced",
        licence="none stated (University of Glasgow IR test collections; research use)",
        citation="CISI collection (Centre for Inventions and Scientific Information; Fox, 1983, SMART distribution)",
        description="library and information science abstracts (1,460 docs; 76 judged queries)",
        raw_files=("CISI.ALL", "CISI.QRY", "CISI.REL"),
    ),
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(RECIPES)}") from None


def is_present(root: str | Path, name: str) -> bool:
    """True when ``root/name`` looks like a complete BEIR folder (corpus, queries, at least one qrels split)."""
    folder = Path(root) / name
    return _is_beir_folder(folder)


def _is_beir_folder(folder: Path) -> bool:
    has_corpus = (folder / "corpus.jsonl").is_file() or (folder / "corpus.jsonl.gz").is_file()
    has_queries = (folder / "queries.jsonl").is_file() or (folder / "queries.jsonl.gz").is_file()
    return has_corpus and has_queries and any((folder / "qrels").glob("*.tsv"))


# ----------------------------------------------------------------------------------------------------------------
# SMART-format parsing (.I/.T/.A/.B/.W/.X blocks) and the two qrels formats


_MARKER = re.compile(r"^\.([A-Z])(?:[ \t]+(.*?))?[ \t]*$")


def _norm(text: str) -> str:
    return " ".join(text.split())


def parse_smart(text: str, *, path: str | Path = "<text>") -> list[dict[str, Any]]:
    """Parse SMART-format records: ``.I <id>`` starts a record, ``.T`` / ``.A`` / ``.W`` / ... start fields.

    Returns one dict per record, in file order: ``{"I": id, "line": line of the .I, "T": ..., "W": ...}``. A
    field's lines are joined with single spaces (whitespace collapsed); text on the marker's own line (``.T Title``)
    counts as the field's first line. A field absent from a record is absent from its dict (callers decide whether
    that is an error); a repeated field (CISI lists some authors in several ``.A`` blocks) is joined with ``"; "``.
    Text before the first ``.I`` or before a record's first field, an ``.I`` without id, and a duplicate id raise
    :class:`DataError` with the line.
    """
    records: list[dict[str, Any]] = []
    fields: dict[str, list[list[str]]] = {}
    current: dict[str, Any] | None = None
    lines: list[str] | None = None
    first_line: dict[str, int] = {}

    def close() -> None:
        if current is not None:
            for letter, blocks in fields.items():
                current[letter] = "; ".join(_norm(" ".join(block)) for block in blocks)
            records.append(current)

    for lineno, raw in enumerate(text.splitlines(), start=1):
        m = _MARKER.match(raw)
        if m is None:
            if not raw.strip():
                continue
            if lines is None:
                where = (
                    "before the first '.I'" if current is None else "after '.I' but before any field marker"
                )
                raise DataError(path, f"text {where}: {raw.strip()[:40]!r}", line=lineno)
            lines.append(raw)
            continue
        letter, rest = m.group(1), (m.group(2) or "").strip()
        if letter == "I":
            if not rest:
                raise DataError(path, "'.I' without an id", line=lineno, field="I")
            if rest in first_line:
                raise DataError(
                    path, f"duplicate id {rest!r} (first on line {first_line[rest]})", line=lineno, field="I"
                )
            close()
            first_line[rest] = lineno
            current, fields, lines = {"I": rest, "line": lineno}, {}, None
            continue
        if current is None:
            raise DataError(path, f"field '.{letter}' before the first '.I'", line=lineno, field=letter)
        lines = [rest] if rest else []
        fields.setdefault(letter, []).append(lines)
    close()
    return records


def _int_id(value: str, path: str | Path, line: int, field_name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataError(path, f"expected an integer id, got {value!r}", line=line, field=field_name) from None


class CranQrel(NamedTuple):
    query: int  # 1-based position of the query in cran.qry
    doc: int
    code: int  # Cleverdon's code: 1 complete answer .. 4 minimum interest; -1 (and 5) no interest
    line: int


class CisiRel(NamedTuple):
    query: int
    doc: int
    line: int


def parse_cranqrel(text: str, *, path: str | Path = "cranqrel") -> list[CranQrel]:
    """``cranqrel`` rows ``query-position doc-id code`` (whitespace separated); codes -1 and 1..5."""
    rows: list[CranQrel] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise DataError(path, f"expected 3 columns (query, doc, code), got {len(parts)}", line=lineno)
        q, d, c = (_int_id(p, path, lineno, f) for p, f in zip(parts, ("query", "doc", "code"), strict=True))
        if c not in (-1, 1, 2, 3, 4, 5):
            raise DataError(path, f"relevance code {c} is not one of -1, 1..5", line=lineno, field="code")
        rows.append(CranQrel(q, d, c, lineno))
    return rows


def cranfield_score(code: int) -> int:
    """Cleverdon's codes (1 = complete answer ... 4 = minimum interest) as graded scores 4..1; 0 for -1 and 5."""
    return 5 - code if 1 <= code <= 4 else 0


def parse_cisi_rel(text: str, *, path: str | Path = "CISI.REL") -> list[CisiRel]:
    """``CISI.REL`` rows ``qid docid 0 0.0`` (whitespace separated; every listed pair is relevant)."""
    rows: list[CisiRel] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        parts = raw.split()
        if not parts:
            continue
        if len(parts) not in (2, 4):
            raise DataError(path, f"expected 4 columns (query, doc, 0, 0.0), got {len(parts)}", line=lineno)
        q, d = (_int_id(p, path, lineno, f) for p, f in zip(parts[:2], ("query", "doc"), strict=True))
        rows.append(CisiRel(q, d, lineno))
    return rows


# ----------------------------------------------------------------------------------------------------------------
# SMART -> BEIR conversion


def _read_raw(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # the 1990s files are ASCII; be lenient with stray bytes


def _doc_id(raw_id: str) -> str:
    return str(int(raw_id)) if raw_id.isdigit() else raw_id


def _write_beir(
    out: Path,
    docs: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    qrels: list[tuple[str, str, int]],
) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as fh:
        for q in queries:
            fh.write(json.dumps(q, ensure_ascii=False) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as fh:
        fh.write(QRELS_HEADER)
        for qid, docno, score in qrels:
            fh.write(f"{qid}\t{docno}\t{score}\n")


def _smart_docs(path: Path, *, strip_title: bool) -> list[dict[str, Any]]:
    docs = []
    for rec in parse_smart(_read_raw(path), path=path):
        title, text = rec.get("T", ""), rec.get("W", "")
        if strip_title and title and text.startswith(title):
            text = text[len(title) :].strip()  # Cranfield repeats the title at the start of .W
        docs.append({"_id": _doc_id(rec["I"]), "title": title, "text": text, "metadata": {}})
    return docs


def _smart_queries(path: Path) -> list[dict[str, Any]]:
    recs = parse_smart(_read_raw(path), path=path)
    for rec in recs:
        if not rec.get("W"):
            raise DataError(path, f"query {rec['I']!r} has no '.W' text", line=rec["line"], field="W")
    return recs


def convert_cranfield(raw_dir: str | Path, out: str | Path) -> dict[str, int]:
    """``cran.all.1400``, ``cran.qry``, ``cranqrel`` in ``raw_dir`` -> BEIR folder ``out``.

    Query ids are the 1-based *position* in ``cran.qry`` (``cranqrel`` numbers queries that way; the ``.I`` labels
    run 001, 002, 004, 008, ... and are kept as ``metadata.original_qry_I``). Scores: ``5 - code`` for codes 1..4
    (1 complete answer -> 4, ..., 4 minimum interest -> 1); ``-1`` rows (one per query, no interest) and ``5`` are
    not relevant and are left out. A pair listed twice keeps its highest score.
    """
    raw_dir, out = Path(raw_dir), Path(out)
    docs_path, qry_path, rel_path = (raw_dir / f for f in RECIPES["cranfield"].raw_files)
    docs = _smart_docs(docs_path, strip_title=True)
    doc_ids = {d["_id"] for d in docs}
    recs = _smart_queries(qry_path)
    queries = [
        {"_id": str(pos), "text": rec["W"], "metadata": {"original_qry_I": rec["I"]}}
        for pos, rec in enumerate(recs, start=1)
    ]
    best: dict[tuple[str, str], int] = {}
    dropped = 0
    for row in parse_cranqrel(_read_raw(rel_path), path=rel_path):
        if not 1 <= row.query <= len(queries):
            raise DataError(
                rel_path,
                f"query {row.query} is outside 1..{len(queries)} (cranqrel numbers the queries of cran.qry "
                "by position)",
                line=row.line,
                field="query",
            )
        if str(row.doc) not in doc_ids:
            raise DataError(
                rel_path, f"document {row.doc} is not in {docs_path.name}", line=row.line, field="doc"
            )
        score = cranfield_score(row.code)
        if score <= 0:
            dropped += 1
            continue
        key = (str(row.query), str(row.doc))
        best[key] = max(best.get(key, 0), score)
    return _finish(out, docs, queries, best, dropped)


def convert_cisi(raw_dir: str | Path, out: str | Path) -> dict[str, int]:
    """``CISI.ALL``, ``CISI.QRY``, ``CISI.REL`` in ``raw_dir`` -> BEIR folder ``out`` (binary relevance, score 1).

    ``.I`` ids are kept as ids (CISI numbers queries 1..112 in order, as ``CISI.REL`` does); ``.A`` and ``.X`` are
    dropped; only the queries with at least one relevant document are written (76 of 112).
    """
    raw_dir, out = Path(raw_dir), Path(out)
    docs_path, qry_path, rel_path = (raw_dir / f for f in RECIPES["cisi"].raw_files)
    docs = _smart_docs(docs_path, strip_title=False)
    doc_ids = {d["_id"] for d in docs}
    queries = [{"_id": _doc_id(r["I"]), "text": r["W"], "metadata": {}} for r in _smart_queries(qry_path)]
    qids = {q["_id"] for q in queries}
    best: dict[tuple[str, str], int] = {}
    for row in parse_cisi_rel(_read_raw(rel_path), path=rel_path):
        if str(row.query) not in qids:
            raise DataError(
                rel_path, f"query {row.query} is not in {qry_path.name}", line=row.line, field="query"
            )
        if str(row.doc) not in doc_ids:
            raise DataError(
                rel_path, f"document {row.doc} is not in {docs_path.name}", line=row.line, field="doc"
            )
        best[(str(row.query), str(row.doc))] = 1
    return _finish(out, docs, queries, best, 0)


def _finish(
    out: Path,
    docs: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    best: dict[tuple[str, str], int],
    dropped: int,
) -> dict[str, int]:
    judged = {q for q, _ in best}
    kept = [q for q in queries if q["_id"] in judged]
    order = {q["_id"]: i for i, q in enumerate(kept)}
    qrels = sorted(((q, d, s) for (q, d), s in best.items()), key=lambda r: order[r[0]])
    _write_beir(out, docs, kept, qrels)
    return {
        "documents": len(docs),
        "queries": len(kept),
        "queries_without_judgements": len(queries) - len(kept),
        "qrels": len(qrels),
        "rows_not_relevant": dropped,
    }


CONVERTERS: dict[str, Callable[[Path, Path], dict[str, int]]] = {
    "cranfield": convert_cranfield,
    "cisi": convert_cisi,
}


# ----------------------------------------------------------------------------------------------------------------
# download, check, extract, put in place


def _manual_advice(recipe: Recipe, url: str, dest: Path) -> str:
    return (
        f"Download {url} by hand (page: {recipe.page}) on a machine with internet access, save it as "
        f"{dest / recipe.archive} and run `ranksuite datasets fetch {recipe.name} --to {dest}` again "
        f"(or pass the file with --from)."
    )


def _download(url: str, target: Path, *, timeout: float, progress: Progress | None, advice: str) -> None:
    """Stream ``url`` into ``target``; any network failure becomes one FetchError with the manual-download advice."""
    with open(target, "wb") as fh:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                done = 0
                while chunk := resp.read(CHUNK):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except urllib.error.HTTPError as exc:
            raise FetchError(
                f"could not download {url}: the server answered HTTP {exc.code} {exc.reason}. {advice}"
            ) from exc
        except ValueError as exc:  # urllib: unknown url type / malformed URL
            raise FetchError(f"could not download {url}: {exc}. {advice}") from exc
        except (OSError, http.client.HTTPException) as exc:  # URLError, refused, timeout, reset, short read
            reason = getattr(exc, "reason", None) or exc or type(exc).__name__
            raise FetchError(
                f"could not download {url} ({reason}): this machine seems to be offline or cannot reach "
                f"the host. {advice}"
            ) from exc


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _safe_member(name: str) -> bool:
    p = Path(name)
    return not p.is_absolute() and ".." not in p.parts


def _extract(archive: Path, into: Path) -> None:
    """Unpack a zip or tar(.gz) archive into ``into``, refusing entries that would land outside it."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            bad = [n for n in zf.namelist() if not _safe_member(n)]
            if bad:
                raise FetchError(f"{archive}: refusing to extract entries outside the folder: {bad[:3]}")
            zf.extractall(into)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            bad = [m.name for m in members if not _safe_member(m.name) or m.issym() or m.islnk()]
            if bad:
                raise FetchError(
                    f"{archive}: refusing to extract links or entries outside the folder: {bad[:3]}"
                )
            if hasattr(tarfile, "data_filter"):
                tf.extractall(into, filter="data")
            else:  # Python < 3.11.4: the members were checked above
                tf.extractall(into)
        return
    raise FetchError(f"{archive}: neither a zip nor a tar archive (an HTML error page saved by mistake?)")


def _find_beir_root(folder: Path) -> Path | None:
    if _is_beir_folder(folder):
        return folder
    for sub in sorted(p for p in folder.rglob("*") if p.is_dir() and "__MACOSX" not in p.parts):
        if _is_beir_folder(sub):
            return sub
    return None


def _find_raw(folder: Path, names: tuple[str, ...], staging: Path) -> Path | None:
    """The folder (``folder`` or below) that holds every raw file, names compared case-insensitively.

    When the case differs, the files are copied under their canonical names into ``staging``.
    """
    wanted = {n.lower() for n in names}
    for cand in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        have = {p.name.lower(): p.name for p in cand.iterdir() if p.is_file()}
        if not wanted <= set(have):
            continue
        if all((cand / n).is_file() and n in have.values() for n in names):
            return cand
        staging.mkdir()
        for n in names:
            shutil.copyfile(cand / have[n.lower()], staging / n)
        return staging
    return None


def _build(recipe: Recipe, unpacked: Path, out: Path, work: Path, origin: str) -> dict[str, int] | None:
    """Turn an unpacked archive (or a folder given by the user) into the BEIR folder ``out`` (not yet existing)."""
    if recipe.kind == "beir-zip":
        root = _find_beir_root(unpacked)
        if root is None:
            raise FetchError(
                f"{origin} does not hold a BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv)"
            )
        if work in root.parents:
            os.rename(root, out)  # extracted by us, same file system
        else:
            shutil.copytree(root, out)  # the user's own folder: leave it as it is
        return None
    raw = _find_raw(unpacked, recipe.raw_files, work / "raw")
    if raw is None:
        raise FetchError(f"{origin} does not hold the raw files {', '.join(recipe.raw_files)}")
    out.mkdir()
    return CONVERTERS[recipe.name](raw, out)


def fetch(
    name: str | Recipe,
    dest: str | Path,
    timeout: float = 20,
    *,
    url: str | None = None,
    source: str | Path | None = None,
    check_md5: bool = True,
    force: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Fetch collection ``name`` into ``dest/<name>/`` (BEIR layout) and return that folder.

    - ``url`` overrides the recipe's download URL (a mirror, or a ``file://`` URL).
    - ``source`` is a local copy instead of a download: the archive file, or a folder holding the extracted files
      (raw SMART files for Cranfield/CISI, a BEIR folder for the BEIR collections). Without it, an archive saved by
      hand at ``dest/<archive name>`` (e.g. ``dest/scifact.zip``) is used when present.
    - The archive's md5 is checked when the recipe knows it (``check_md5=False`` skips the check).
    - Everything is built in a temporary folder inside ``dest`` and renamed into place at the end, so an
      interrupted or failed fetch never leaves a half-written collection. A complete ``dest/<name>`` is returned
      as it is unless ``force`` (then it is replaced, again by rename).

    Raises :class:`FetchError` (network, checksum, archive), :class:`DataError` (malformed raw files),
    :class:`ValueError` (unknown name) or :class:`FileNotFoundError` (``source`` missing).
    """
    recipe = name if isinstance(name, Recipe) else get_recipe(name)
    dest = Path(dest)
    final = dest / recipe.name
    if final.exists() and not force:
        if _is_beir_folder(final):
            return final
        raise FetchError(f"{final} exists but is not a complete BEIR folder; pass --force to replace it")
    if source is not None and not Path(source).exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    dest.mkdir(parents=True, exist_ok=True)
    src_url = url or recipe.url
    work = Path(tempfile.mkdtemp(prefix=f".{recipe.name}.", suffix=".tmp", dir=dest))
    try:
        manual = dest / recipe.archive
        if source is not None:
            archive, origin = Path(source), str(source)
        elif manual.is_file():
            archive, origin = manual, str(manual)
        else:
            archive, origin = work / recipe.archive, src_url
            advice = _manual_advice(recipe, src_url, dest)
            _download(src_url, archive, timeout=timeout, progress=progress, advice=advice)
        if archive.is_dir():
            unpacked = archive
        else:
            if check_md5 and recipe.md5:
                got = _md5(archive)
                if got != recipe.md5:
                    raise FetchError(
                        f"{origin}: md5 {got} does not match the published {recipe.md5} ({recipe.md5_source}); "
                        "the file is corrupt or a different version. Download it again, or pass --no-md5 if "
                        "you trust this copy."
                    )
            unpacked = work / "unpacked"
            unpacked.mkdir()
            _extract(archive, unpacked)
        built = work / recipe.name
        _build(recipe, unpacked, built, work, origin)
        if not _is_beir_folder(built):
            raise FetchError(f"{origin}: the result is not a complete BEIR folder")
        if final.exists():
            os.rename(final, work / "previous")  # removed with the work folder below
        os.rename(built, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final
