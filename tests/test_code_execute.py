"""Code data loaders (HumanEval / MBPP / APPS layouts, value normalisation, DataError on bad input) and execution
labelling: on small synthetic sets, and on a real slice where the fresh labels must match the shipped ones."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from ranksuite.domains.code.data import (
    CLASS_NAMES,
    label_from_execution,
    load_candidates,
    load_code_dataset,
    load_problems,
    pool_name,
    program_preamble,
    program_text,
    write_candidates,
)
from ranksuite.domains.code.execute import execute_candidates
from ranksuite.shared.data.errors import DataError

HE_PROBLEM = {
    "task_id": "HumanEval/0",
    "prompt": 'def add(a: int, b: int) -> int:\n    """Add.\n    >>> add(1, 2)\n    3\n    """\n',
    "codet_generation_prompt": 'def add(a: int, b: int) -> int:\n    """Add."""\n',
    "entry_point": "add",
    "canonical_solution": "    return a + b\n",
    "test": "\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n",
}


def _jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture()
def he_dir(tmp_path: Path) -> Path:
    d = tmp_path / "humaneval"
    d.mkdir()
    _jsonl(d / "problems.jsonl", [HE_PROBLEM, {**HE_PROBLEM, "task_id": "HumanEval/1"}])
    completions = [
        ("    return a + b\n", True, None, None),
        ("    return a - b\n", "False", "AssertionError", "5"),  # values as strings, as some dumps have
        ("    return a +\n", False, "SyntaxError", 3),
        ("    return c\n", "false", "NameError", "None"),
    ]
    _jsonl(
        d / "candidates_codegen16b.jsonl.gz",
        [
            {"task_id": "HumanEval/0", "completion": c, "passed": p, "error_type": e, "fail_line": f}
            for c, p, e, f in completions
        ],
        gz=True,
    )
    _jsonl(
        d / "candidates_llm_mapcoder.jsonl.gz",
        [
            {
                "candidate_id": "x1",
                "task_id": "HumanEval/1",
                "code": "def add(a, b):\n    return b + a\n",
                "reported_is_solved": True,
                "model": "m",
                "strategy": "CoT",
            },
        ],
        gz=True,
    )
    return d


def test_labels_and_program_layout() -> None:
    assert CLASS_NAMES == ("correct", "execution_error", "intent_error")
    assert label_from_execution(True, None) == 0
    assert label_from_execution(False, "AssertionError") == 2
    for et in ("SyntaxError", "NameError", "Timeout", "Crash", "ModuleNotFoundError"):
        assert label_from_execution(False, et) == 1
    assert program_text("a = 1\n", "assert a") == "a = 1\n\n\nassert a"
    assert program_text("a = 1\n", None) == "a = 1\n"
    assert pool_name("x/candidates_llm_mapcoder.jsonl.gz") == "llm"
    assert pool_name("candidates_codegen16b.jsonl.gz") == "codegen16b"
    assert pool_name("mine.jsonl") == "mine"


def test_humaneval_layout(he_dir: Path) -> None:
    ds = load_code_dataset(he_dir)
    assert set(ds.pools) == {"codegen16b", "llm"}
    p = ds.problems.row(0, named=True)
    assert p["dataset"] == "humaneval" and p["entry_point"] == "add"
    assert p["test"].endswith("\ncheck(add)") and p["solution"].endswith("return a + b\n")
    cg = ds.pools["codegen16b"]
    # a completion continues CodeT's prompt (no docstring examples), the text the shipped labels ran
    assert cg["code"][0] == HE_PROBLEM["codet_generation_prompt"] + "    return a + b\n"
    assert cg["candidate_id"].to_list() == [f"HumanEval/0#{k}" for k in range(4)]
    assert cg["passed"].to_list() == [True, False, False, False]
    assert cg["fail_line"].to_list() == [None, 5, 3, None]
    assert cg["label"].to_list() == [0, 2, 1, 1]
    llm = ds.pools["llm"].row(0, named=True)
    assert (llm["passed"], llm["label"], llm["reported_passed"], llm["strategy"]) == (True, 0, True, "CoT")


def test_preambles_and_round_trip(he_dir: Path, tmp_path: Path) -> None:
    # the shipped labels ran LLM programs after the prompt's imports (HumanEval) or `from typing import *` (MBPP)
    assert program_preamble(
        "humaneval", "import math\nfrom typing import List\n\ndef f():\n    import os\n"
    ) == ("import math\nfrom typing import List\nimport os\n")
    assert program_preamble("humaneval", "def f():\n    pass\n") == "\n"
    assert program_preamble("humaneval", 'def f():\n    """Walk.\n    from any cell, go\n    """\n') == "\n"
    assert program_preamble("mbpp", None) == program_preamble(None, None, True) == "from typing import *\n"
    assert program_preamble("apps", "import sys") == ""
    ds = load_code_dataset(he_dir)
    assert ds.pools["llm"]["code"][0] == "\ndef add(a, b):\n    return b + a\n"
    for name, pool in ds.pools.items():
        write_candidates(pool, tmp_path / f"{name}.jsonl.gz")
        back = load_candidates(tmp_path / f"{name}.jsonl.gz", ds.problems, pool=name)
        assert back.equals(pool), name


def test_completions_need_their_problems(he_dir: Path, tmp_path: Path) -> None:
    # found beside the file ...
    assert load_candidates(he_dir / "candidates_codegen16b.jsonl.gz").height == 4
    # ... or an error naming the file, the line and the field
    lone = _jsonl(tmp_path / "lone.jsonl", [{"task_id": "HumanEval/0", "completion": "    pass\n"}])
    with pytest.raises(DataError, match=r"lone.jsonl, line 1: field 'completion'"):
        load_candidates(lone)


def test_mbpp_and_apps_layouts(tmp_path: Path) -> None:
    mbpp = _jsonl(
        tmp_path / "mbpp.jsonl",
        [
            {
                "task_id": 3,
                "text": "Check primes.",
                "code": "def is_p(n):\n    return n > 1\n",
                "test_setup_code": "",
                "test_list": ["assert is_p(2)", "assert not is_p(1)"],
            }
        ],
    )
    p = load_problems(mbpp).row(0, named=True)
    assert (p["dataset"], p["task_id"], p["entry_point"]) == ("mbpp", "3", "is_p")
    assert p["prompt"] == "Check primes.\nYour code should pass this test:\nassert is_p(2)"
    assert p["test"] == "assert is_p(2)\nassert not is_p(1)"
    cands = _jsonl(
        tmp_path / "candidates_llm.jsonl",
        [
            {
                "task_id": 3,
                "code": "def is_p(n: int) -> bool:\n    return n > 1\n",
                "multiple_test": "assert is_p(2)",
                "passed": "True",
                "error_type": "None",
                "fail_line": "None",
            }
        ],
    )
    c = load_candidates(cands, load_problems(mbpp)).row(0, named=True)
    assert c["code"].startswith("from typing import *\n") and c["test"] == "assert is_p(2)"
    assert (c["passed"], c["error_type"], c["label"], c["pool"]) == (True, None, 0, "llm")

    apps = _jsonl(
        tmp_path / "apps.jsonl",
        [
            {
                "task_id": 7,
                "difficulty": "introductory",
                "description": "Add two numbers.",
                "starter_code": "",
                "sample_io": [],
                "test_list": [{"input": "1 2\n", "output": ["3\n"]}],
            }
        ],
    )
    ap = load_problems(apps).row(0, named=True)
    assert (ap["dataset"], ap["test"], ap["entry_point"]) == ("apps", None, None)
    assert json.loads(ap["io_tests"]) == [{"input": "1 2\n", "output": ["3\n"]}]
    ac = _jsonl(
        tmp_path / "candidates_apps.jsonl",
        [
            {"task_id": 7, "code": "print(1)", "reported_is_solved": True},
            {"task_id": 7, "code": "print(2)", "reported_is_solved": False},
        ],
    )
    got = load_candidates(ac, load_problems(apps))
    assert got["passed"].to_list() == [True, False] and got["label"].to_list() == [0, None]


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (['{"task_id": "HumanEval/0", "code": "x"}', "{not json"], r"line 2: not valid JSON"),
        (['{"task_id": "HumanEval/0"}'], r"line 1: field 'code': missing"),
        (['{"task_id": "nope", "code": "x"}'], r"line 1: field 'task_id': unknown task_id 'nope'"),
        (['{"task_id": "HumanEval/0", "code": "x", "passed": "maybe"}'], r"line 1: field 'passed'"),
        (['{"task_id": "HumanEval/0", "code": "x", "fail_line": "ten"}'], r"line 1: field 'fail_line'"),
        (
            ['{"candidate_id": "a", "task_id": "HumanEval/0", "code": "x"}'] * 2,
            r"line 2: field 'candidate_id': duplicate candidate_id 'a'",
        ),
    ],
)
def test_bad_candidates_raise_data_error(he_dir: Path, tmp_path: Path, lines: list[str], match: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=match) as err:
        load_candidates(bad, load_problems(he_dir))
    assert err.value.path == str(bad)


def test_bad_problems_raise_data_error(tmp_path: Path) -> None:
    bad = _jsonl(
        tmp_path / "p.jsonl", [HE_PROBLEM, {**HE_PROBLEM, "entry_point": None, "task_id": "HumanEval/9"}]
    )
    with pytest.raises(DataError, match=r"p.jsonl, line 2: field 'entry_point': missing"):
        load_problems(bad)
    dup = _jsonl(tmp_path / "d.jsonl", [HE_PROBLEM, HE_PROBLEM])
    with pytest.raises(DataError, match=r"line 2: duplicate task_id"):
        load_problems(dup)
    with pytest.raises(DataError, match="file not found"):
        load_problems(tmp_path / "missing")


def test_execute_candidates_labels_synthetic(he_dir: Path) -> None:
    ds = load_code_dataset(he_dir)
    extra = pl.DataFrame(
        {"task_id": ["HumanEval/1"], "code": ["def add(a, b):\n    return a + b\n"], "test": [None]}
    )
    cands = pl.concat([ds.pools["codegen16b"].select("task_id", "code", "test"), extra])
    out = execute_candidates(ds.problems, cands, workers=2, progress=False)
    assert out.columns[:3] == ["task_id", "code", "test"]
    assert out["status"].to_list() == ["passed", "failed", "failed", "failed", "passed"]
    assert out["error_type"].to_list() == [None, "AssertionError", "SyntaxError", "NameError", None]
    assert out["label"].to_list() == [0, 2, 1, 1, 0]
    prog = program_text(cands["code"][1], ds.problems["test"][0])
    assert out["fail_source"][1] == "    assert candidate(1, 2) == 3"
    assert prog.split("\n")[out["fail_line"][1] - 1] == out["fail_source"][1]
    assert out["fail_source"][3] == "    return c"
    # a problem without any test: not run
    bare = ds.problems.with_columns(pl.lit(None, dtype=pl.String).alias("test"))
    untested = execute_candidates(
        bare, cands.head(1).with_columns(pl.lit(None, dtype=pl.String).alias("test")), progress=False
    )
    assert untested["status"].to_list() == ["untested"] and untested["label"].to_list() == [None]


def test_execute_candidates_io_tests(tmp_path: Path) -> None:
    apps = _jsonl(
        tmp_path / "apps.jsonl",
        [
            {
                "task_id": 7,
                "description": "Add.",
                "starter_code": "",
                "test_list": [{"input": "1 2\n", "output": ["3\n"]}, {"input": "5 5\n", "output": [10]}],
            }
        ],
    )
    problems = load_problems(apps)
    cands = pl.DataFrame(
        {"task_id": ["7", "7"], "code": ["a, b = map(int, input().split())\nprint(a + b)", "print(3)"]}
    )
    out = execute_candidates(problems, cands, workers=1, progress=False)
    assert out["passed"].to_list() == [True, False] and out["label"].to_list() == [0, 2]


@pytest.mark.realdata
def test_fresh_labels_match_the_shipped_ones_on_humaneval(shared_data: Path) -> None:
    folder = shared_data / "code" / "humaneval"
    problems = load_problems(folder)
    cands = load_candidates(folder / "candidates_codegen16b.jsonl.gz", problems)
    # 3 problems x 10 candidates, among them passes, assertion failures and runtime errors
    tasks = ["HumanEval/0", "HumanEval/1", "HumanEval/10"]
    tasks = [t for t in tasks if t in set(problems["task_id"])]
    sample = cands.filter(pl.col("task_id").is_in(tasks)).group_by("task_id", maintain_order=True).head(10)
    sample = sample.filter(pl.col("error_type").ne_missing("Timeout"))  # 5 s each: not in a quick test
    out = execute_candidates(problems, sample, workers=2, progress=False)
    for col in ("passed", "error_type", "fail_line", "label"):
        assert out[col].to_list() == sample[col].to_list(), col
    assert out["label"].n_unique() >= 2


@pytest.mark.realdata
def test_fresh_labels_match_the_shipped_ones_on_the_humaneval_llm_pool(shared_data: Path) -> None:
    folder = shared_data / "code" / "humaneval"
    problems = load_problems(folder)
    cands = load_candidates(folder / "candidates_llm_mapcoder.jsonl.gz", problems)
    # (HumanEval/115 and /129: the shipped labels call every candidate a SyntaxError, an artefact of their harness)
    cands = cands.filter(
        ~pl.col("task_id").is_in(["HumanEval/115", "HumanEval/129"])
        & pl.col("error_type").ne_missing("Timeout")
    )
    sample = pl.concat([cands.filter(pl.col("passed")).head(6), cands.filter(~pl.col("passed")).head(14)])
    out = execute_candidates(problems, sample, workers=2, progress=False)
    for col in ("passed", "error_type", "fail_line", "label"):
        assert out[col].to_list() == sample[col].to_list(), col


@pytest.mark.realdata
def test_fresh_labels_match_the_shipped_ones_on_mbpp(shared_data: Path) -> None:
    folder = shared_data / "code" / "mbpp"
    problems = load_problems(folder)
    cands = load_candidates(folder / "candidates_llm_mapcoder.jsonl.gz", problems)
    sample = pl.concat([cands.filter(pl.col("passed")).head(8), cands.filter(~pl.col("passed")).head(8)])
    sample = sample.filter(pl.col("error_type").ne_missing("Timeout"))
    out = execute_candidates(problems, sample, workers=2, progress=False)
    for col in ("passed", "error_type", "fail_line", "label"):
        assert out[col].to_list() == sample[col].to_list(), col
