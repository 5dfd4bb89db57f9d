"""Candidate SQL for users without their own: sample N queries per question with a small causal LM (SmolLM2).

The prompt is SmolLM2's chat template around the database schema (``schema_text``, the same serialisation the ORMs
read) and the question, asking for one SQLite query and nothing else; the assistant turn is pre-filled with
``SELECT`` (``prefix``), which a 135M model needs to start with SQL rather than prose. Each raw continuation is cut
to one statement by :func:`extract_sql` (a fenced block's content when there is one, then the first statement, then
the first blank line).

Batched and seeded: questions go in fixed chunks of ``batch_questions`` (all N samples of a chunk in one
``generate`` call, left-padded); chunk ``k`` is sampled with a seed drawn from (``seed``, its question ids), so the
samples do not depend on what ran before. Resumable: every finished chunk is appended and flushed to the output
JSONL; a rerun skips the questions already there (a last line cut short by a kill is dropped and its chunk redone),
and ends with the same file as an uninterrupted run. Rows are the candidate format ``sql execute`` /
``sql evaluate`` read: ``question_id, db_id, candidate_id ("<qid>:s<k>"), system, sql`` (+ ``raw``: the model's text).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import torch
from tqdm.auto import tqdm

from ranksuite.domains.sql.data import SqlDataset, schema_text
from ranksuite.domains.sql.execute import split_statements

GEN_SCHEMA_CHARS = 1500
PREFIX = "SELECT"
INSTRUCTION = "Write one SQLite query that answers the question. Reply with the SQL query only."


def generation_prompt(tokenizer: Any, question: str, schema: str, prefix: str = PREFIX) -> str:
    from ranksuite.shared.models.causal_lm import chat_prompt

    user = f"Database schema (SQLite):\n{schema}\n\n{INSTRUCTION}\nQuestion: {question}"
    return chat_prompt(tokenizer, user) + prefix


def extract_sql(text: str, prefix: str = "") -> str:
    """One SQL statement out of a model's answer (``prefix``, the pre-filled start, is put back in front): the
    content of a fenced block when the answer opens with one, else the text up to any fence; then cut at the first
    blank line and to the first statement (no trailing ``;``)."""
    full = prefix + text
    fence = re.search(r"```(?:sql|sqlite)?[ \t]*\n?(.*?)(?:```|$)", full, flags=re.S | re.I)
    if fence and not full[: fence.start()].strip():
        body = fence.group(1)
    else:
        body = full.split("```", 1)[0]
    body = re.split(r"\n\s*\n", body.strip(), maxsplit=1)[0]
    parts = split_statements(body)
    return (parts[0] if parts else body).strip()


def read_done(path: Path) -> list[dict[str, Any]]:
    """The rows already in ``path``; a last line cut short by a kill is dropped from the file."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    rows, keep = [], 0
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
            keep += len(line.encode("utf-8"))
        except json.JSONDecodeError as exc:
            if i != len(lines) - 1:
                raise ValueError(
                    f"{path}: line {i + 1} is not JSON (not a file written by `sql generate`?)"
                ) from exc
    if keep != path.stat().st_size:
        with open(path, "r+b") as fh:
            fh.truncate(keep)
    return rows


def _chunk_seed(seed: int, qids: list[str]) -> int:
    return int(hashlib.sha256(f"{seed}:{'|'.join(qids)}".encode()).hexdigest(), 16) % (2**31)


def generate_candidates(
    dataset: SqlDataset,
    out: str | Path,
    n: int = 8,
    model: str | Path = "smollm2",
    *,
    questions: pl.DataFrame | None = None,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_new_tokens: int = 128,
    batch_questions: int = 4,
    seed: int = 42,
    prefix: str = PREFIX,
    schema_chars: int = GEN_SCHEMA_CHARS,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Sample ``n`` SQL candidates per question (``questions``: a slice of ``dataset.questions``; default all) into
    the JSONL ``out``, resuming what is already there. Returns counts (questions, written now, resumed)."""
    from ranksuite.shared.models.causal_lm import generate_texts, load_causal_lm
    from ranksuite.shared.models.registry import backbone_label

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    qs = dataset.questions if questions is None else questions
    done: dict[str, int] = {}
    for row in read_done(out):
        done[row["question_id"]] = done.get(row["question_id"], 0) + 1
    rows = list(qs.select("question_id", "db_id", "question").iter_rows())
    chunks = [rows[i : i + batch_questions] for i in range(0, len(rows), batch_questions)]
    todo = [c for c in chunks if any(done.get(q, 0) < n for q, _, _ in c)]
    resumed = sum(1 for q, _, _ in rows if done.get(q, 0) >= n)
    stats = {"questions": len(rows), "resumed": resumed, "generated": 0, "out": str(out)}
    if not todo:
        return stats
    lm, tok = load_causal_lm(model, device=device)
    system = f"{backbone_label(model)} sample T={temperature:g} top_p={top_p:g}"
    schemas: dict[str, str] = {}
    bar = tqdm(total=len(rows), initial=resumed, disable=not progress, desc="generating SQL", unit="question")
    with open(out, "a", encoding="utf-8") as fh:
        for chunk in todo:
            for _, db, _ in chunk:
                if db not in schemas:
                    schemas[db] = schema_text(dataset.databases[db], max_chars=schema_chars)
            prompts = [generation_prompt(tok, question, schemas[db], prefix) for _, db, question in chunk]
            torch.manual_seed(_chunk_seed(seed, [q for q, _, _ in chunk]))
            texts = generate_texts(
                lm,
                tok,
                prompts,
                max_new_tokens=max_new_tokens,
                batch_size=len(prompts),
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                num_return_sequences=n,
                max_length=None,
            )
            lines = []
            for (qid, db, _), samples in zip(chunk, texts, strict=True):
                have = done.get(qid, 0)
                if have >= n:
                    continue
                for k, raw in enumerate(samples):
                    if k < have:  # written before a kill: the same sample (same seed), keep the first copy
                        continue
                    rec = {
                        "question_id": qid,
                        "db_id": db,
                        "candidate_id": f"{qid}:s{k}",
                        "system": system,
                        "sql": extract_sql(raw, prefix),
                        "raw": raw,
                    }
                    lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
                stats["generated"] += 1
                bar.update(1)
            fh.write("".join(lines))
            fh.flush()
    bar.close()
    return stats
