"""Which answer strings does SmolLM2-135M-Instruct expect at the LM ORM's answer slot, before any training?

GradeSQL reads " Yes" / " No" (leading space) after a plain-text prompt; SmolLM2 is a chat model whose assistant turn
starts after ``<|im_start|>assistant\\n``. For 8 real Spider candidates (concert_singer) we compute the untrained
model's prompt-masked loss of each answer string under both prompt styles, and its top next tokens. The answers the
model already finds likely are the ones to train (a low step-0 loss: the head is not fighting the prior).

    python benchmarks/sql_lm_answer_tokens.py
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import torch

from ranksuite.domains.sql.data import load_spider
from ranksuite.domains.sql.orm import labelled_candidates, orm_queries
from ranksuite.domains.sql.orm_lm import LmOrm
from ranksuite.shared.models.causal_lm import answer_lm_loss

ROOT = Path(__file__).resolve().parents[1]
ds = load_spider(ROOT.parent / "shared" / "data" / "sql" / "spider_dev")
lab = labelled_candidates(ds).filter(pl.col("db_id") == "concert_singer").head(8)
queries = orm_queries(ds, "causal_lm")
orm = LmOrm.from_backbone("smollm2", lora=None)
q = [queries[qid] for qid in lab["question_id"].to_list()]
sql = lab["sql"].to_list()
styles = {
    "chat (ours)": orm.prompts(q, sql),
    "plain (GradeSQL)": [f"{a}\nSQL: {b}\nIs the SQL correct?" for a, b in zip(q, sql, strict=True)],
}
for name, prompts in styles.items():
    with torch.no_grad():
        losses = {
            a: float(answer_lm_loss(orm.lm, orm.tokenizer, prompts, [a] * len(prompts)))
            for a in ("Yes", "No", " Yes", " No")
        }
        ids = orm.tokenizer(prompts[0], add_special_tokens=False, return_tensors="pt")["input_ids"]
        top = torch.topk(orm.lm(input_ids=ids).logits[0, -1].log_softmax(-1), 5)
    print(f"{name:17s} " + "  ".join(f"{a!r}: {v:.2f}" for a, v in losses.items()))
    print(
        f"{'':17s} top next tokens: "
        + ", ".join(
            f"{orm.tokenizer.decode([int(i)])!r} {float(v):.2f}"
            for v, i in zip(top.values, top.indices, strict=True)
        )
    )
