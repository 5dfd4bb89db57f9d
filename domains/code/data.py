"""Code candidate ranking data: problems and candidate programs as canonical polars frames, with execution labels.

The canonical **problems frame** (one row per problem, file order):

- ``task_id``     String, unique (MBPP's and APPS's integer ids become their decimal strings)
- ``dataset``     String: ``humaneval``, ``mbpp``, ``apps`` (or ``custom`` for a user file with only a prompt)
- ``prompt``      String: the task as a ranker sees it. HumanEval: ``prompt`` (signature + docstring with
  examples). MBPP: ``text`` + ``"\\nYour code should pass this test:\\n"`` + the *first* test of ``test_list``
  (MBPP's own prompt format with one example instead of all three: it shows the function name and the call
  shape, which the bare sentence does not, without handing the ranker every test it is judged by). APPS:
  ``description`` + the ``starter_code`` when there is one (call-based problems).
- ``entry_point`` String or null: the function the tests call (HumanEval ``entry_point``; MBPP: the first
  function of the reference code that the tests call; APPS: the function of the starter code, else null)
- ``test``        String or null: code that, appended after a program (see :func:`program_text`), runs the
  checks. HumanEval: ``test + "\\ncheck(<entry_point>)"``; MBPP: ``test_setup_code`` + ``test_list`` (the original
  asserts); APPS: null (its tests are stdin/stdout or call-based pairs, kept in ``io_tests``)
- ``generation_prompt`` String or null: the prompt a *completion* continues (HumanEval: CodeT's
  ``codet_generation_prompt``, the docstring without its examples, which the CodeGen-16B samples were generated
  from; else the ``prompt``)
- ``solution``    String or null: a reference program (HumanEval prompt + canonical solution, MBPP ``code``)
- ``io_tests``    String or null: APPS ``test_list`` as JSON (``[{"input": str, "output": [...]}, ...]``)

The canonical **candidates frame** (one row per candidate program, file order):

- ``candidate_id`` String, unique: from the file, else ``"<task_id>#<k>"`` (k = 0, 1, ... within the task)
- ``task_id``      String, a problem of the problems frame (checked when it is given)
- ``pool``         String: which pool the candidate belongs to (``codegen16b``, ``llm``, ...)
- ``code``         String: the whole program as a ranker sees it and as execution runs it — the text the shipped
  labels were computed on (their failing line numbers only line up with it). A record with ``completion``
  (CodeGen samples) gets the problem's ``generation_prompt`` + completion. A whole program (``code``, the LLM
  pools) gets the preamble the shipped labels ran it with (:func:`program_preamble`): for a HumanEval problem the
  import lines of the problem's prompt (a program may rely on the ``import math`` the prompt shows), for an MBPP
  problem or a record with a MultiPL-E test (``multiple_test``) ``"from typing import *\\n"`` (the typed
  signatures need it). APPS programs run as they are. A record with ``"program": true`` (written by
  :func:`write_candidates`) is taken as it is.
- ``test``         String or null: the candidate's own test when the record carries one (``multiple_test``, or
  ``test``); null means the problem's ``test``
- ``passed``       Boolean or null (null: never executed)
- ``error_type``   String or null: exception class name, ``Timeout`` or ``Crash``
- ``error_message`` String or null
- ``fail_line``    Int64 or null: line number, in ``program_text(code, test)``, of the innermost frame of the
  executed program when it failed
- ``label``        Int64 or null: 0 correct, 1 execution error (syntax, runtime, timeout, crash), 2 intent error
  (ran, but a test's assert failed) — see :func:`label_from_execution`; null when unknown
- ``model``, ``strategy`` String or null: which model (and prompting strategy) wrote it
- ``reported_passed`` Boolean or null: the verdict reported by the candidate's source (MapCoder's
  ``reported_is_solved``), kept beside our own execution

APPS candidates carry only ``reported_is_solved`` (the data's authors did not re-execute them): there
``passed`` = the reported verdict, ``label`` = 0 when solved and null otherwise (a failure's class — execution
or intent error — is unknown without running it); :func:`ranksuite.domains.code.execute.execute_candidates`
fills it in by running the APPS tests.

Values written as strings (``"True"``, ``"None"``, ``"12"``) are read as what they mean. Bad input raises
:class:`~ranksuite.shared.data.errors.DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ranksuite.shared.data.errors import DataError
from ranksuite.shared.data.jsonl import iter_jsonl, require_str

CLASS_NAMES = ("correct", "execution_error", "intent_error")
CORRECT, EXECUTION_ERROR, INTENT_ERROR = 0, 1, 2
DATASETS = ("humaneval", "mbpp", "apps")
TYPING_PREAMBLE = "from typing import *\n"
# a candidates file name minus "candidates_" and the extension -> pool name
POOL_ALIASES = {"llm_mapcoder": "llm", "codegen16b": "codegen16b"}

PROBLEMS_SCHEMA: dict[str, Any] = {
    "task_id": pl.String,
    "dataset": pl.String,
    "prompt": pl.String,
    "entry_point": pl.String,
    "test": pl.String,
    "generation_prompt": pl.String,
    "solution": pl.String,
    "io_tests": pl.String,
}
CANDIDATES_SCHEMA: dict[str, Any] = {
    "candidate_id": pl.String,
    "task_id": pl.String,
    "pool": pl.String,
    "code": pl.String,
    "test": pl.String,
    "passed": pl.Boolean,
    "error_type": pl.String,
    "error_message": pl.String,
    "fail_line": pl.Int64,
    "label": pl.Int64,
    "model": pl.String,
    "strategy": pl.String,
    "reported_passed": pl.Boolean,
}


@dataclass
class CodeDataset:
    """A code collection: its problems and its candidate pools (pool name -> candidates frame)."""

    name: str
    problems: pl.DataFrame
    pools: dict[str, pl.DataFrame]
    root: Path | None = field(default=None, repr=False)


def label_from_execution(passed: bool, error_type: str | None) -> int:
    """RankEF's three classes from an execution outcome: 0 correct; 2 intent error when the program ran but an
    ``assert`` failed (``AssertionError``: the tests' verdict that the output is wrong); 1 execution error for
    everything else (syntax, runtime exceptions, ``Timeout``, ``Crash``, a missing module).

    An ``AssertionError`` raised by the candidate's own asserts counts as an intent error too: the outcome (an
    assertion about values failed, nothing crashed) is the same, and RankEF's labelling goes by exception type.
    """
    if passed:
        return CORRECT
    return INTENT_ERROR if error_type == "AssertionError" else EXECUTION_ERROR


def program_preamble(dataset: str | None, prompt: str | None, has_multiple_test: bool = False) -> str:
    """What goes in front of an LLM pool's whole program before it runs (see the candidates frame's ``code``).

    HumanEval: the prompt's import statements, one per line, then a line break — a blank line when the prompt
    imports nothing. Where the shipped labels' harness took every line starting with ``import``/``from`` as it
    stood, this one keeps only lines that parse as an import, dedented: theirs called every candidate of
    HumanEval/115 (``    import math`` inside the function) and HumanEval/129 (a docstring line "from any cell,
    ...") a SyntaxError at line 1. MBPP (MultiPL-E typed version): ``from typing import *``. Else nothing."""
    if has_multiple_test or dataset == "mbpp":
        return TYPING_PREAMBLE
    if dataset == "humaneval":
        imports = [ln.strip() for ln in (prompt or "").split("\n") if _is_import(ln.strip())]
        return "\n".join(imports) + "\n"
    return ""


def _is_import(line: str) -> bool:
    if not line.startswith(("import ", "from ")):
        return False
    try:
        body = ast.parse(line).body
    except SyntaxError:
        return False
    return len(body) == 1 and isinstance(body[0], (ast.Import, ast.ImportFrom))


def program_text(code: str, test: str | None) -> str:
    """The program that is executed: the candidate, a blank line, then the test (the shipped labels' layout:
    their ``fail_line`` values count lines in exactly this text)."""
    return code if not test else code + "\n\n" + test


# ----------------------------------------------------------------------------- value normalisation

_NULL_STRINGS = {"", "none", "null", "nan"}
_TRUE_STRINGS = {"true", "1", "yes"}
_FALSE_STRINGS = {"false", "0", "no"}


def _opt_bool(p: Path, line: int, rec: dict[str, Any], name: str) -> bool | None:
    v = rec.get(name)
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _NULL_STRINGS:
            return None
        if s in _TRUE_STRINGS:
            return True
        if s in _FALSE_STRINGS:
            return False
    raise DataError(p, f"expected true/false, got {v!r}", line=line, field=name)


def _opt_int(p: Path, line: int, rec: dict[str, Any], name: str) -> int | None:
    v = rec.get(name)
    if v is None:
        return None
    if isinstance(v, bool):
        raise DataError(p, f"expected an integer, got {v!r}", line=line, field=name)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        if s.lower() in _NULL_STRINGS:
            return None
        if re.fullmatch(r"[+-]?\d+", s):
            return int(s)
    raise DataError(p, f"expected an integer, got {v!r}", line=line, field=name)


def _opt_str(p: Path, line: int, rec: dict[str, Any], name: str, *, null_words: bool = True) -> str | None:
    v = rec.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise DataError(p, f"expected a string, got {type(v).__name__}", line=line, field=name)
    if null_words and v.strip().lower() in ("none", "null"):
        return None
    return v


def _task_id(p: Path, line: int, rec: dict[str, Any]) -> str:
    if isinstance(rec.get("task_id"), bool):
        raise DataError(p, "expected a string or an integer, got bool", line=line, field="task_id")
    return require_str(p, line, rec, "task_id")


# ----------------------------------------------------------------------------- problems


def _detect_dataset(rec: dict[str, Any]) -> str:
    if "description" in rec and "test_list" in rec:
        return "apps"
    if "text" in rec and "test_list" in rec:
        return "mbpp"
    if "prompt" in rec and "test" in rec and "entry_point" in rec:
        return "humaneval"
    return "custom"


def _str_list(p: Path, line: int, rec: dict[str, Any], name: str) -> list[str]:
    v = rec.get(name)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise DataError(p, "expected a list of strings", line=line, field=name)
    return v


def _mbpp_entry_point(code: str | None, tests: list[str]) -> str | None:
    """The first function defined by the reference code that the tests call (MBPP has no entry_point field)."""
    joined = "\n".join(tests)
    for name in re.findall(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", code or "", flags=re.M):
        if re.search(rf"\b{re.escape(name)}\s*\(", joined):
            return name
    m = re.search(r"assert\s+(?:not\s+)?\(?\s*(?:set\(|math\.isclose\()?\s*([A-Za-z_]\w*)\s*\(", joined)
    return m.group(1) if m else None


def _problem_row(p: Path, line: int, rec: dict[str, Any], dataset: str) -> dict[str, Any]:
    tid = _task_id(p, line, rec)
    if dataset == "humaneval":
        prompt = require_str(p, line, rec, "prompt")
        entry = require_str(p, line, rec, "entry_point")
        test = require_str(p, line, rec, "test") + f"\ncheck({entry})"
        canonical = _opt_str(p, line, rec, "canonical_solution", null_words=False)
        return {
            "task_id": tid,
            "prompt": prompt,
            "entry_point": entry,
            "test": test,
            "generation_prompt": _opt_str(p, line, rec, "codet_generation_prompt", null_words=False)
            or prompt,
            "solution": prompt + canonical if canonical is not None else None,
            "io_tests": None,
        }
    if dataset == "mbpp":
        text = require_str(p, line, rec, "text")
        tests = _str_list(p, line, rec, "test_list")
        if not tests:
            raise DataError(
                p, "missing or empty (an MBPP problem needs its asserts)", line=line, field="test_list"
            )
        setup = _opt_str(p, line, rec, "test_setup_code", null_words=False) or ""
        code = _opt_str(p, line, rec, "code", null_words=False)
        return {
            "task_id": tid,
            "prompt": f"{text}\nYour code should pass this test:\n{tests[0]}",
            "entry_point": _mbpp_entry_point(code, tests),
            "test": (setup + "\n" if setup.strip() else "") + "\n".join(tests),
            "generation_prompt": None,
            "solution": code,
            "io_tests": None,
        }
    if dataset == "apps":
        desc = require_str(p, line, rec, "description")
        starter = _opt_str(p, line, rec, "starter_code", null_words=False) or ""
        tests = rec.get("test_list")
        if not isinstance(tests, list) or not tests:
            raise DataError(p, "expected a non-empty list of {input, output}", line=line, field="test_list")
        for t in tests:
            if not isinstance(t, dict) or "input" not in t or "output" not in t:
                raise DataError(p, "expected a list of {input, output} objects", line=line, field="test_list")
        defs = re.findall(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", starter, flags=re.M)
        return {
            "task_id": tid,
            "prompt": desc.rstrip() + ("\n\n" + starter.strip() + "\n" if starter.strip() else ""),
            "entry_point": defs[0] if defs else None,
            "test": None,
            "generation_prompt": None,
            "solution": None,
            "io_tests": json.dumps(tests, ensure_ascii=False),
        }
    # custom: task_id + prompt, optional entry_point / test / solution
    return {
        "task_id": tid,
        "prompt": require_str(p, line, rec, "prompt"),
        "entry_point": _opt_str(p, line, rec, "entry_point"),
        "test": _opt_str(p, line, rec, "test", null_words=False),
        "generation_prompt": _opt_str(p, line, rec, "generation_prompt", null_words=False),
        "solution": _opt_str(p, line, rec, "solution", null_words=False),
        "io_tests": None,
    }


def load_problems(path: str | Path, dataset: str | None = None) -> pl.DataFrame:
    """Read a problems file (or the ``problems.jsonl`` of a dataset folder) into the canonical problems frame.

    The layout (HumanEval, MBPP, APPS, or a custom file with ``task_id`` + ``prompt`` and optional
    ``entry_point``, ``test``, ``solution``) is recognised from the first record's fields unless ``dataset`` says.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "problems.jsonl"
    if dataset is not None and dataset not in (*DATASETS, "custom"):
        raise ValueError(f"unknown dataset {dataset!r} (expected one of {', '.join((*DATASETS, 'custom'))})")
    rows: dict[str, list[Any]] = {k: [] for k in PROBLEMS_SCHEMA}
    seen: dict[str, int] = {}
    kind = dataset
    for line, rec in iter_jsonl(p):
        if kind is None:
            kind = _detect_dataset(rec)
        row = _problem_row(p, line, rec, kind)
        if row["task_id"] in seen:
            raise DataError(
                p, f"duplicate task_id {row['task_id']!r} (first on line {seen[row['task_id']]})", line=line
            )
        seen[row["task_id"]] = line
        row["dataset"] = kind
        for k in PROBLEMS_SCHEMA:
            rows[k].append(row[k])
    if not seen:
        raise DataError(p, "no problems in the file")
    return pl.DataFrame(rows, schema=PROBLEMS_SCHEMA)


# ----------------------------------------------------------------------------- candidates


def pool_name(path: str | Path) -> str:
    """The pool a candidates file holds, from its name: ``candidates_codegen16b.jsonl.gz`` -> ``codegen16b``,
    ``candidates_llm_mapcoder.jsonl.gz`` -> ``llm``; any other ``candidates_X`` -> ``X``; else the file stem."""
    name = Path(path).name
    for ext in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(ext)
    stem = name.removeprefix("candidates_").removeprefix("candidates")
    return POOL_ALIASES.get(stem, stem) if stem else "default"


def _find_problems(p: Path) -> pl.DataFrame | None:
    beside = p.parent / "problems.jsonl"
    return load_problems(beside) if beside.is_file() else None


def load_candidates(
    path: str | Path, problems: pl.DataFrame | None = None, pool: str | None = None
) -> pl.DataFrame:
    """Read a candidates file (``.jsonl`` or ``.jsonl.gz``) into the canonical candidates frame.

    A record needs ``task_id`` and either ``code`` (a whole program) or ``completion`` (a continuation of the
    problem's ``generation_prompt``). The problems come from ``problems`` or, when not given, from the
    ``problems.jsonl`` beside the file (needed for completions; used for the typing preamble). Labels (``passed``,
    ``error_type``, ``error_message``, ``fail_line``) and ``reported_is_solved`` are read when present. With
    ``problems`` given, every ``task_id`` must be one of theirs. ``pool`` defaults to :func:`pool_name` of the
    file.
    """
    p = Path(path)
    pool = pool or pool_name(p)
    known: set[str] | None = None  # task ids that must exist (problems given explicitly)
    if problems is not None:
        known = set(problems["task_id"].to_list())
    else:
        problems = _find_problems(p)
    gen_prompt: dict[str, str] = {}
    dataset_of: dict[str, tuple[str, str]] = {}
    if problems is not None:
        gen_prompt = {
            t: (g if g is not None else pr)
            for t, g, pr in problems.select("task_id", "generation_prompt", "prompt").iter_rows()
        }
        dataset_of = {t: (d, pr) for t, d, pr in problems.select("task_id", "dataset", "prompt").iter_rows()}
    rows: dict[str, list[Any]] = {k: [] for k in CANDIDATES_SCHEMA}
    seen_ids: dict[str, int] = {}
    per_task: dict[str, int] = {}
    for line, rec in iter_jsonl(p):
        tid = _task_id(p, line, rec)
        if known is not None and tid not in known:
            raise DataError(p, f"unknown task_id {tid!r} (not in the problems)", line=line, field="task_id")
        k = per_task.get(tid, 0)
        per_task[tid] = k + 1
        cid = (
            require_str(p, line, rec, "candidate_id") if rec.get("candidate_id") is not None else f"{tid}#{k}"
        )
        if cid in seen_ids:
            raise DataError(
                p,
                f"duplicate candidate_id {cid!r} (first on line {seen_ids[cid]})",
                line=line,
                field="candidate_id",
            )
        seen_ids[cid] = line
        own_test = _opt_str(p, line, rec, "multiple_test", null_words=False)
        if own_test is None:
            own_test = _opt_str(p, line, rec, "test", null_words=False)
        if rec.get("code") is not None:
            code = require_str(p, line, rec, "code", allow_empty=True)
            if _opt_bool(p, line, rec, "program") is not True:
                dataset, prompt = dataset_of.get(tid, (None, None))
                code = program_preamble(dataset, prompt, rec.get("multiple_test") is not None) + code
        elif rec.get("completion") is not None:
            completion = require_str(p, line, rec, "completion", allow_empty=True)
            if problems is None:
                raise DataError(
                    p,
                    "a completion continues its problem's prompt: pass the problems "
                    "(there is no problems.jsonl beside the file)",
                    line=line,
                    field="completion",
                )
            if tid not in gen_prompt:
                raise DataError(
                    p, f"unknown task_id {tid!r} (not in the problems)", line=line, field="task_id"
                )
            code = gen_prompt[tid] + completion
        else:
            raise DataError(p, "missing (a candidate needs 'code' or 'completion')", line=line, field="code")
        passed = _opt_bool(p, line, rec, "passed")
        reported = _opt_bool(p, line, rec, "reported_is_solved")
        if reported is None:
            reported = _opt_bool(p, line, rec, "reported_passed")
        error_type = _opt_str(p, line, rec, "error_type")
        error_message = _opt_str(p, line, rec, "error_message", null_words=error_type is None)
        fail_line = _opt_int(p, line, rec, "fail_line")
        if passed is None and reported is not None:
            passed = reported  # APPS: the source's own verdict, no execution details
            label = CORRECT if reported else None
        elif passed is None:
            label = None
        elif passed:
            label = CORRECT
            error_type = error_message = fail_line = None  # type: ignore[assignment]
        else:
            label = label_from_execution(False, error_type) if error_type is not None else None
        for col, val in (
            ("candidate_id", cid),
            ("task_id", tid),
            ("pool", pool),
            ("code", code),
            ("test", own_test),
            ("passed", passed),
            ("error_type", error_type),
            ("error_message", error_message),
            ("fail_line", fail_line),
            ("label", label),
            ("model", _opt_str(p, line, rec, "model")),
            ("strategy", _opt_str(p, line, rec, "strategy")),
            ("reported_passed", reported),
        ):
            rows[col].append(val)
    if not seen_ids:
        raise DataError(p, "no candidates in the file")
    return pl.DataFrame(rows, schema=CANDIDATES_SCHEMA)


def write_candidates(candidates: pl.DataFrame, path: str | Path) -> None:
    """Write a candidates frame as JSONL (``.gz`` compresses) that :func:`load_candidates` reads back unchanged:
    every record says ``"program": true`` (its ``code`` is already the program; no preamble is added again).
    Atomic: a killed run leaves the old file or the new one."""
    from ranksuite.shared.data.atomic import atomic_write

    def write(tmp: Path) -> None:
        gz = str(path).endswith(".gz")
        with gzip.open(tmp, "wt", encoding="utf-8") if gz else open(tmp, "w", encoding="utf-8") as fh:
            for rec in candidates.iter_rows(named=True):
                fh.write(json.dumps({**rec, "program": True}, ensure_ascii=False) + "\n")

    atomic_write(path, write)


def load_code_dataset(folder: str | Path) -> CodeDataset:
    """Load a dataset folder: ``problems.jsonl`` and every ``candidates_*.jsonl[.gz]`` beside it, one pool per
    file (HumanEval: ``codegen16b`` and ``llm``; MBPP and APPS: ``llm``)."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(root, "not a folder (expected a code dataset folder with problems.jsonl)")
    problems = load_problems(root / "problems.jsonl")
    pools: dict[str, pl.DataFrame] = {}
    for f in sorted(root.iterdir()):
        if f.name.startswith("candidates") and (f.name.endswith(".jsonl") or f.name.endswith(".jsonl.gz")):
            name = pool_name(f)
            if name in pools:
                raise DataError(f, f"a second file for pool {name!r}")
            pools[name] = load_candidates(f, problems, pool=name)
    return CodeDataset(root.name, problems, pools, root)
