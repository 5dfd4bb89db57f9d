"""Rank the candidate programs of one problem with a trained ranker, without running any of them.

Input: the problem as text, and the candidates as a folder of ``.py`` files (id = file name) or a JSONL file with
``code`` (a whole program) or ``completion`` (a continuation of the problem text) and an optional
``candidate_id``. Output: the candidates best first with P(correct), the predicted class and, where the model has
one, its predicted feedback — the encoder rankef's heads ("likely IndexError at line 12: ..."), or the text the
SmolLM2 rankef generates (``feedback=True``; slower: one generation per candidate). Line numbers count in the
candidate as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ranksuite.domains.code.data import CLASS_NAMES
from ranksuite.domains.code.inputs import shown_code
from ranksuite.domains.code.model import CausalRanker, encoder_feedback
from ranksuite.shared.data.errors import DataError
from ranksuite.shared.data.jsonl import iter_jsonl, require_str


def read_programs(path: str | Path, problem: str = "") -> list[tuple[str, str]]:
    """``(candidate_id, program)`` pairs from a folder of ``.py`` files or a JSONL(.gz) file."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix == ".py" and f.is_file())
        if not files:
            raise DataError(p, "no .py files in the folder")
        return [(f.stem, f.read_text(encoding="utf-8")) for f in files]
    if not p.is_file():
        raise DataError(p, "not found (give a folder of .py files or a JSONL file)")
    out: list[tuple[str, str]] = []
    for line, rec in iter_jsonl(p):
        cid = (
            require_str(p, line, rec, "candidate_id")
            if rec.get("candidate_id") is not None
            else str(len(out))
        )
        if rec.get("code") is not None:
            code = require_str(p, line, rec, "code", allow_empty=True)
        elif rec.get("completion") is not None:
            code = problem + require_str(p, line, rec, "completion", allow_empty=True)
        else:
            raise DataError(p, "missing (a candidate needs 'code' or 'completion')", line=line, field="code")
        out.append((cid, code))
    if not out:
        raise DataError(p, "no candidates in the file")
    return out


def rank_programs(
    model: Any, problem: str, programs: list[tuple[str, str]], feedback: bool = False, batch_size: int = 16
) -> list[dict[str, Any]]:
    """The programs best first: ``rank``, ``candidate_id``, ``p_correct``, ``predicted`` and ``feedback``."""
    views = [shown_code(code, (problem,)) for _, code in programs]
    out = model.predict([problem] * len(programs), [v.text for v in views], batch_size)
    probs = out["probs"]
    notes: list[str | None] = [None] * len(programs)
    if "line" in out:  # encoder rankef: its heads, with lines counted in the program as given
        notes = [
            encoder_feedback(
                code,
                int(probs[i].argmax()) == 0,
                out["error_type"][i],
                out["location"][i],
                None if out["line"][i] is None else out["line"][i] + views[i].offset,
            )
            for i, (_, code) in enumerate(programs)
        ]
    elif feedback and isinstance(model, CausalRanker) and model.config.model == "rankef":
        notes = list(model.generate_feedback([problem] * len(programs), [v.text for v in views]))
    order = sorted(range(len(programs)), key=lambda i: (-float(probs[i, 0]), i))
    return [
        {
            "rank": n + 1,
            "candidate_id": programs[i][0],
            "p_correct": float(probs[i, 0]),
            "predicted": CLASS_NAMES[int(probs[i].argmax())],
            "feedback": notes[i],
        }
        for n, i in enumerate(order)
    ]
