"""Execution feedback for new candidates: run each one with its tests in the sandbox and label it.

Each candidate runs as ``program_text(code, test)`` — its own ``test`` when it carries one (the MBPP LLM pool's
MultiPL-E test), else its problem's ``test`` — in :class:`~ranksuite.domains.code.sandbox.Sandbox`, the shipped
labels' conventions (file name ``<candidate>``, ``__main__``, 5 s, 2 GiB, standard library only). A problem with
stdin/stdout tests instead (APPS: ``io_tests``) is run once per test with the test's input on stdin, its output
compared token by token with the expected one (MapCoder's APPS protocol: programs read ``input()`` and
``print``); a wrong output is an ``AssertionError`` (intent error), a test past the time limit a ``Timeout``.

A candidate's ``code`` is already the program (the preamble the shipped labels ran, e.g. the prompt's imports,
is put in by :func:`~ranksuite.domains.code.data.load_candidates`). A candidate with no test at all (neither its
own nor its problem's) is not run: ``status`` ``untested``, labels null. Agreement with the shipped labels and
throughput: ``benchmarks/code_sandbox.py``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import polars as pl

from ranksuite.domains.code.data import label_from_execution, program_text
from ranksuite.domains.code.sandbox import ExecResult, Limits, Sandbox

EXECUTION_COLUMNS: dict[str, Any] = {
    "passed": pl.Boolean,
    "error_type": pl.String,
    "error_message": pl.String,
    "fail_line": pl.Int64,
    "fail_source": pl.String,
    "label": pl.Int64,
    "status": pl.String,
    "duration_s": pl.Float64,
}


def candidate_jobs(problems: pl.DataFrame, candidates: pl.DataFrame) -> list[dict[str, Any] | None]:
    """One sandbox job per candidate (``None`` when there is nothing to test it with), in row order."""
    test_of = dict(problems.select("task_id", "test").iter_rows())
    io_of = dict(problems.select("task_id", "io_tests").iter_rows()) if "io_tests" in problems.columns else {}
    own_tests = candidates["test"] if "test" in candidates.columns else pl.Series([None] * candidates.height)
    jobs: list[dict[str, Any] | None] = []
    for task_id, code, own in zip(candidates["task_id"], candidates["code"], own_tests, strict=True):
        if task_id not in test_of:
            raise ValueError(f"a candidate of task_id {task_id!r}, which is not in the problems")
        test = own if own is not None else test_of[task_id]
        if test is not None:
            jobs.append({"source": program_text(code, test)})
        elif io_of.get(task_id):
            jobs.append({"source": code, "io_tests": json.loads(io_of[task_id])})
        else:
            jobs.append(None)
    return jobs


def _row(result: ExecResult | None) -> dict[str, Any]:
    if result is None:
        return {k: None for k in EXECUTION_COLUMNS} | {"status": "untested"}
    if result.status == "error":  # the sandbox failed: no verdict on the program
        return {k: None for k in EXECUTION_COLUMNS} | {
            "status": "error",
            "error_message": result.error_message,
        }
    passed = result.status == "passed"
    return {
        "passed": passed,
        "error_type": result.error_type,
        "error_message": result.error_message,
        "fail_line": result.fail_line,
        "fail_source": result.fail_source,
        "label": label_from_execution(passed, result.error_type),
        "status": result.status,
        "duration_s": result.duration_s,
    }


def execute_candidates(
    problems: pl.DataFrame,
    candidates: pl.DataFrame,
    workers: int | None = None,
    timeout: float = 5.0,
    progress: bool = True,
    *,
    limits: Limits | None = None,
    sandbox: Sandbox | None = None,
) -> pl.DataFrame:
    """Run every candidate with its tests in the sandbox; return the candidates with fresh ``passed``,
    ``error_type``, ``error_message``, ``fail_line``, ``fail_source``, ``label``, ``status`` and ``duration_s``
    (existing columns of those names are replaced; the rest are kept, row order unchanged).

    ``workers`` zygotes run in parallel (default: the CPU count); ``timeout`` is the wall-clock limit per program
    (per test for stdin/stdout problems). Pass ``sandbox`` to reuse a running one (its limits apply).
    """
    jobs = candidate_jobs(problems, candidates)
    todo = [i for i, j in enumerate(jobs) if j is not None]
    results: list[ExecResult | None] = [None] * len(jobs)
    own = sandbox is None
    sb = sandbox or Sandbox(workers=workers, limits=limits or Limits(timeout_s=timeout))
    try:
        from tqdm.auto import tqdm

        t0 = time.monotonic()
        bar = tqdm(total=len(todo), disable=not progress, desc="executing candidates", unit="prog")
        items: list[dict[str, Any]] = [jobs[i] for i in todo]  # type: ignore[misc]
        for i, res in zip(todo, sb.map(items, timeout_s=None if sandbox else timeout), strict=True):
            results[i] = res
            bar.update(1)
        bar.close()
        if progress and todo:
            rate = len(todo) / max(time.monotonic() - t0, 1e-9)
            bar.write(f"{len(todo)} programs, {rate:.0f}/s ({sb.workers} workers; isolation: {sb.isolation})")
    finally:
        if own:
            sb.close()
    rows = [_row(r) for r in results]
    fresh = pl.DataFrame(rows, schema=EXECUTION_COLUMNS)
    kept = candidates.drop([c for c in EXECUTION_COLUMNS if c in candidates.columns])
    return pl.concat([kept, fresh], how="horizontal")
