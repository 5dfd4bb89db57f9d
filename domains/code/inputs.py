"""What a code ranker reads and what it learns from: the candidate as shown, the cut to fit, and the feedback.

- **The candidate as shown** (:func:`shown_code`): the program minus text the problem already shows — a CodeGen
  sample is the problem's generation prompt + a completion, and the typed MBPP pool starts with ``from typing
  import *`` — so the window is spent on what differs between candidates. Line numbers of failures are moved to
  the shown text (``offset``).
- **The cut** (:func:`fit_pair`): problem text and code share one token window. The problem keeps its head (the
  signature and the task come first; examples and constraints are last), the code keeps as much as fits, and code
  that does not fit keeps its head and its tail (whole lines) around a ``# ...`` marker: a bug at the end (the return, a missing
  case) is as telling as one at the start. The problem gets at least ``problem_tokens`` and more when the code is
  short. Cuts are made on characters at token boundaries (fast-tokenizer offsets), never by decoding tokens.
- **The feedback** (:func:`feedback_of`): the execution outcome as RankEF's text target ("IndexError: list index
  out of range at line 12: `x = a[i+1]`", "AssertionError in the test: `assert f(2) == 4`", "passed") and as
  structured targets for the encoder's auxiliary heads: error type, where it failed (code, test, unknown) and the
  failing line of the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ranksuite.domains.code.data import TYPING_PREAMBLE, program_text

MARKER = "\n# ...\n"
LOCATIONS = ("passed", "code", "test", "unknown")  # where the failure happened (auxiliary target)
MESSAGE_CHARS = 80


@dataclass
class Shown:
    """The candidate as a ranker sees it: ``text``, and how many program lines were dropped in front of it."""

    text: str
    offset: int


def shown_code(code: str, prefixes: tuple[str | None, ...] = ()) -> Shown:
    """``code`` without the first of ``prefixes`` (and the typing preamble) it starts with."""
    text, offset = code, 0
    if text.startswith(TYPING_PREAMBLE):
        text, offset = text[len(TYPING_PREAMBLE) :], 1
    for prefix in prefixes:
        if prefix and len(prefix) < len(text) and text.startswith(prefix):
            offset += prefix.count("\n")
            text = text[len(prefix) :]
            break
    return Shown(text, offset)


@dataclass
class Feedback:
    """An execution outcome, as RankEF's text and as the encoder's structured targets."""

    text: str
    error_type: str | None  # None = passed, "unknown" = failed without details
    location: int  # index into LOCATIONS; -100 when unknown whether it ran
    line: int | None  # failing line in the shown code (1-based), when the failure is in the code


def feedback_of(row: dict[str, Any], shown: Shown, test: str | None) -> Feedback:
    """Feedback of a labelled candidate row (``passed``, ``error_type``, ``error_message``, ``fail_line``)."""
    if row.get("passed"):
        return Feedback("passed", None, 0, None)
    etype = row.get("error_type")
    if etype is None:  # failed, but the data does not say how (APPS: reported verdicts only)
        return Feedback("failed", "unknown", -100, None)
    message = (row.get("error_message") or "").strip().splitlines()
    text = etype + (f": {message[0][:MESSAGE_CHARS]}" if message and message[0].strip() else "")
    fail_line = row.get("fail_line")
    if fail_line is None:
        return Feedback(text, etype, LOCATIONS.index("unknown"), None)
    code = row["code"]
    code_lines = code.count("\n") + 1
    lines = program_text(code, test).split("\n")
    source = lines[fail_line - 1].strip() if 0 < fail_line <= len(lines) else ""
    quoted = f": `{source[:MESSAGE_CHARS]}`" if source else ""
    if fail_line > code_lines:
        return Feedback(f"{text} in the test{quoted}", etype, LOCATIONS.index("test"), None)
    line = fail_line - shown.offset
    if line < 1:  # in the part of the program the ranker is not shown (the problem's own prompt)
        return Feedback(f"{text} in the prompt{quoted}", etype, LOCATIONS.index("code"), None)
    return Feedback(f"{text} at line {line}{quoted}", etype, LOCATIONS.index("code"), line)


def line_span(text: str, line: int | None) -> tuple[int, int] | None:
    """Character span ``[start, end)`` of 1-based ``line`` in ``text`` (None when absent or blank)."""
    if line is None or line < 1:
        return None
    lines = text.split("\n")
    if line > len(lines) or not lines[line - 1].strip():
        return None
    start = sum(len(ln) + 1 for ln in lines[: line - 1])
    return start, start + len(lines[line - 1])


def _offsets(tokenizer: Any, text: str) -> list[tuple[int, int]]:
    return tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]


@dataclass
class Cut:
    """Problem and code cut to the window; the code is ``code[:head_end] + MARKER + code[tail_start:]`` when cut."""

    problem: str
    code: str
    head_end: int | None = None
    tail_start: int | None = None

    def to_cut(self, span: tuple[int, int] | None) -> tuple[int, int] | None:
        """A character span of the uncut code in the cut code (None when it was cut away)."""
        if span is None or self.head_end is None or self.tail_start is None:
            return span
        if span[1] <= self.head_end:
            return span
        if span[0] >= self.tail_start:
            shift = self.head_end + len(MARKER) - self.tail_start
            return span[0] + shift, span[1] + shift
        return None

    def to_original(self, pos: int) -> int | None:
        """A character position of the cut code in the uncut code (None inside the marker)."""
        if self.head_end is None or self.tail_start is None or pos < self.head_end:
            return pos
        if pos < self.head_end + len(MARKER):
            return None
        return pos - self.head_end - len(MARKER) + self.tail_start


def fit_pair(tokenizer: Any, problem: str, code: str, budget: int, problem_tokens: int) -> Cut:
    """Cut ``problem`` and ``code`` to ``budget`` tokens together (see the module docstring)."""
    p_off, c_off = _offsets(tokenizer, problem), _offsets(tokenizer, code)
    p_keep = min(len(p_off), max(problem_tokens, budget - len(c_off)))
    c_keep = max(0, budget - p_keep)
    if p_keep < len(p_off):
        problem = problem[: p_off[p_keep - 1][1]] if p_keep else ""
    if c_keep >= len(c_off):
        return Cut(problem, code)
    marker = len(_offsets(tokenizer, MARKER))
    head = max(1, (c_keep - marker) * 2 // 3)
    tail = max(0, c_keep - marker - head)
    head_end = c_off[head - 1][1]
    tail_start = c_off[len(c_off) - tail][0] if tail else len(code)
    # whole lines on both sides of the marker, where the kept part holds a line break to cut at
    if code.rfind("\n", 0, head_end) > 0:
        head_end = code.rfind("\n", 0, head_end)
    if 0 <= code.find("\n", tail_start) < len(code) - 1:
        tail_start = code.find("\n", tail_start) + 1
    return Cut(problem, code[:head_end] + MARKER + code[tail_start:], head_end, tail_start)


def line_of(text: str, pos: int) -> int:
    """1-based line number of character ``pos`` in ``text``."""
    return text.count("\n", 0, pos) + 1
