"""Step 3: one synthetic query per sampled document, few-shot, greedy, batched, resumable, with broken ones counted.

Prompt: DUQGen prompts an LLM with three (document, query) examples and the target document. Their examples come
from the target's own training queries; ours never do (the target has no queries we may read): they come from
``--examples FILE`` or the three below, which the project wrote about unrelated topics. SmolLM2-135M-Instruct
follows a plain completion pattern (``Document: ... / Query: ...``) far better than its chat template, which
mostly answered "The document provides a detailed explanation of ..." on a probe of 8 Cranfield documents, so
the prompt is plain text. Documents are cut to ``doc_words`` words (100 by default, about 130-150 tokens): on a
CPU the prompt's prefill is most of the cost. Generation stops at the first newline.

Resumable: every finished batch is appended (and flushed) to ``generated.jsonl``, one line per document with the raw
output, the cleaned query and its status; a restarted run reads the file (a line cut short by a kill is dropped and
redone) and generates only the documents not in it. ``queries.parquet`` (the accepted queries) is written at the end.

Filter (each reason counted in ``generate.json``): ``empty``, ``too_short`` (< 3 words or < 10 characters),
``too_long`` (> 32 words or > 250 characters), ``non_text`` (< 60 % letters), ``prompt_echo`` (the model repeats
the prompt's ``Document:``/``Query:`` labels), ``repetitive`` (>= 6 words, fewer than half distinct),
``copy_of_document`` (>= 6 words found verbatim in the document), ``duplicate`` (same text as an earlier query).
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from ranksuite.shared.data.beir import doc_text_column
from ranksuite.shared.data.errors import DataError
from ranksuite.shared.data.jsonl import iter_jsonl

Generator = Callable[[list[str]], list[str]]
"""Prompts in, one raw continuation per prompt out (SmolLM2 by default; tests inject a fake)."""


@dataclass(frozen=True)
class Example:
    document: str
    query: str


DEFAULT_EXAMPLES = (
    Example(
        "Regular aerobic exercise lowered resting blood pressure in adults with mild hypertension in a twelve-week "
        "trial: 200 participants walked or cycled for 30 minutes on five days a week.",
        "does regular exercise lower blood pressure in mild hypertension",
    ),
    Example(
        "Steel bridges near the coast corrode faster because salt spray speeds up the oxidation of unprotected "
        "surfaces; zinc coatings and paint slow the process considerably.",
        "why do steel bridges near the sea corrode faster",
    ),
    Example(
        "A survey of 40 city libraries found that evening opening hours doubled the number of student visitors, "
        "while weekend hours mostly attracted families.",
        "effect of library opening hours on student visits",
    ),
)

REASONS = (
    "empty",
    "too_short",
    "too_long",
    "non_text",
    "prompt_echo",
    "repetitive",
    "copy_of_document",
    "duplicate",
)
_WORD = re.compile(r"[a-z0-9]+")


def load_examples(path: str | Path | None) -> list[Example]:
    """Three examples from a JSONL file of ``{"document": ..., "query": ...}`` lines, or the built-in set."""
    if path is None:
        return list(DEFAULT_EXAMPLES)
    out = []
    for line, rec in iter_jsonl(path):
        for key in ("document", "query"):
            if not isinstance(rec.get(key), str) or not rec[key].strip():
                raise DataError(path, "expected a non-empty string", line=line, field=key)
        out.append(Example(rec["document"].strip(), rec["query"].strip()))
    if len(out) < 3:
        raise DataError(path, f"need 3 examples (few-shot, as DUQGen), found {len(out)}")
    return out[:3]


def truncate_words(text: str, n: int) -> str:
    words = text.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")


def build_prompt(document: str, examples: Sequence[Example], doc_words: int = 100) -> str:
    """Instruction, three ``Document/Query`` examples, then the document; the model writes the query line."""
    shots = "".join(f"Document: {e.document}\nQuery: {e.query}\n\n" for e in examples)
    return (
        "Write a search query that the document answers.\n\n"
        + shots
        + f"Document: {truncate_words(document, doc_words)}\nQuery:"
    )


def clean_query(raw: str) -> str:
    """The first line of the continuation, without a repeated ``Query:`` label, quotes or stray spaces."""
    text = raw.strip().split("\n", 1)[0].strip() if raw else ""
    text = re.sub(r"^(query|question)\s*:\s*", "", text, flags=re.IGNORECASE)
    return text.strip().strip("\"'`“”‘’").strip()


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def check_query(query: str, document: str, seen: set[str] | None = None) -> str | None:
    """The reason a cleaned query is unusable (one of :data:`REASONS`), or None when it is fine."""
    if not query.strip():
        return "empty"
    words = _words(query)
    if len(words) < 3 or len(query) < 10:
        return "too_short"
    if len(words) > 32 or len(query) > 250:
        return "too_long"
    visible = [c for c in query if not c.isspace()]
    if sum(c.isalpha() for c in visible) < 0.6 * len(visible):
        return "non_text"
    if re.search(r"\b(document|query)\s*:", query, flags=re.IGNORECASE):
        return "prompt_echo"
    if len(words) >= 6 and len(set(words)) < 0.5 * len(words):
        return "repetitive"
    if len(words) >= 6 and f" {' '.join(words)} " in f" {' '.join(_words(document))} ":
        return "copy_of_document"
    if seen is not None and " ".join(words) in seen:
        return "duplicate"
    return None


def newline_token_ids(tokenizer: Any) -> list[int]:
    """Every token id whose text holds a newline: generation stops there (the query is one line)."""
    vocab = tokenizer.get_vocab()
    return sorted(i for t, i in vocab.items() if "\n" in tokenizer.convert_tokens_to_string([t]))


def smollm2_generator(
    model: str = "smollm2", batch_size: int = 16, max_new_tokens: int = 40, device: str | None = None
) -> Generator:
    """Greedy SmolLM2 through the shared ``generate_texts`` (left-padded batches), stopping at a newline."""
    from ranksuite.shared.models.causal_lm import generate_texts, load_causal_lm

    lm, tokenizer = load_causal_lm(model, device=device)
    stops = newline_token_ids(tokenizer)
    eos = lm.generation_config.eos_token_id
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    lm.generation_config.eos_token_id = sorted(set(eos) | set(stops))

    def generate(prompts: list[str]) -> list[str]:
        outs = generate_texts(
            lm, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, max_length=1024
        )
        return [o[0] for o in outs]

    return generate


def read_done(path: Path) -> list[dict[str, Any]]:
    """Records of ``generated.jsonl``; a last line cut short by a kill is dropped (its batch is redone)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError as exc:
            if i == len(lines):
                warnings.warn(f"{path}: line {i} was cut short (killed mid-write); redoing it", stacklevel=2)
                with open(path, "w", encoding="utf-8") as fh:  # drop the broken tail before appending
                    fh.writelines(line + "\n" for line in lines[: i - 1])
                break
            raise DataError(path, f"not valid JSON ({exc.msg})", line=i) from exc
    return out


def generate_queries(
    sample: pl.DataFrame,
    corpus: pl.DataFrame,
    out: str | Path,
    generator: Generator,
    examples: Sequence[Example] = DEFAULT_EXAMPLES,
    batch_size: int = 16,
    doc_words: int = 100,
    progress: bool = False,
    max_batches: int | None = None,
) -> dict[str, Any]:
    """Generate (or finish generating) one query per sampled document; write ``queries.parquet`` when done.

    ``max_batches`` stops after that many new batches without writing ``queries.parquet`` (a partial run, as if
    killed): the next call resumes.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / "generated.jsonl"
    texts = dict(zip(corpus["docno"].to_list(), doc_text_column(corpus).to_list(), strict=True))
    todo_all = sample["docno"].to_list()
    missing = [d for d in todo_all if d not in texts]
    if missing:
        raise DataError(
            "sample.parquet", f"document {missing[0]!r} is not in the target corpus", field="docno"
        )
    done = {r["docno"] for r in read_done(jsonl)}
    todo = [d for d in todo_all if d not in done]
    resumed = len(todo_all) - len(todo)
    bar = tqdm(
        total=len(todo_all), initial=resumed, disable=not progress, desc="generating queries", unit="q"
    )
    batches = 0
    with open(jsonl, "a", encoding="utf-8") as fh:
        for start in range(0, len(todo), batch_size):
            if max_batches is not None and batches >= max_batches:
                bar.close()
                return {"complete": False, "resumed": resumed, "done": resumed + start}
            chunk = todo[start : start + batch_size]
            t0 = time.time()
            raws = generator([build_prompt(texts[d], examples, doc_words) for d in chunk])
            per_query = (time.time() - t0) / len(chunk)
            if len(raws) != len(chunk):
                raise RuntimeError(f"the generator returned {len(raws)} texts for {len(chunk)} prompts")
            for d, raw in zip(chunk, raws, strict=True):
                rec = {"docno": d, "raw": raw, "query": clean_query(raw), "s": round(per_query, 4)}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            batches += 1
            bar.update(len(chunk))
    bar.close()
    return finish(sample, texts, jsonl, out, resumed)


def finish(
    sample: pl.DataFrame, texts: dict[str, str], jsonl: Path, out: Path, resumed: int
) -> dict[str, Any]:
    """Filter the generated queries in sample order and write ``queries.parquet`` (qid, query, docno)."""
    records = {r["docno"]: r for r in read_done(jsonl)}
    reasons: Counter[str] = Counter()
    seen: set[str] = set()
    rows: dict[str, list[str]] = {"qid": [], "query": [], "docno": []}
    for d in sample["docno"].to_list():
        q = records[d]["query"]
        reason = check_query(q, texts[d], seen)
        if reason:
            reasons[reason] += 1
            continue
        seen.add(" ".join(_words(q)))
        rows["qid"].append(f"g-{d}")
        rows["query"].append(q)
        rows["docno"].append(d)
    pl.DataFrame(rows, schema={"qid": pl.String, "query": pl.String, "docno": pl.String}).write_parquet(
        out / "queries.parquet"
    )
    gen_s = sum(float(r.get("s", 0.0)) for r in records.values())
    return {
        "complete": True,
        "documents": sample.height,
        "accepted": len(rows["qid"]),
        "rejected": dict(sorted(reasons.items())),
        "resumed_from": resumed,
        "generation_seconds": round(gen_s, 2),
        "queries_per_s": round(len(records) / gen_s, 4) if gen_s > 0 else None,
    }
