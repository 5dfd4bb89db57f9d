"""How long one screening decision takes to refresh the ranking (the session's refit-after-every-label mode).

Records: two of the largest real reviews of the team kit concatenated (Cohen 2006 BetaBlockers + CLEF 2017 CD010438,
5,313 records), so the figure is for a review larger than the 5,000 records the issue asks about. Features and
prior as the default strategy (TF-IDF n-grams, fusion prior — BM25 only here, to time the learner, not the
embedder). Decisions are the real labels in a random order; we time label() + next() at several sizes.

    python benchmarks/screening_refresh.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

from ranksuite.domains.screening.active import ActiveLearner
from ranksuite.domains.screening.data import load_reviews
from ranksuite.domains.screening.features import record_texts, tfidf_matrix
from ranksuite.domains.screening.rank import Topic, zero_shot_scores

root = Path(__file__).resolve().parents[2] / "shared" / "data" / "screening"
a = load_reviews(root / "cohen2006", ["cohen2006_BetaBlockers"])[0]
b = load_reviews(root / "clef_tar2017", ["CD010438"])[0]
records = pl.concat([a.records, b.records], how="vertical_relaxed")
y = records["label"].cast(pl.Int64).to_numpy()
t = time.perf_counter()
x = tfidf_matrix(record_texts(records))
prior = zero_shot_scores(records, Topic(a.title, a.query), "bm25")
print(f"{records.height} records; features {x.shape} built in {time.perf_counter() - t:.1f} s")
learner = ActiveLearner(x, prior=prior, refit_every="each")
order = np.random.default_rng(0).permutation(records.height)
pos, neg = np.flatnonzero(y == 1)[0], np.flatnonzero(y == 0)[0]
learner.label(int(pos), 1)
learner.label(int(neg), 0)
done = 2
for target in (10, 50, 200, 1000):
    for i in order:
        if done >= target:
            break
        if int(i) not in learner.labels:
            learner.label(int(i), int(y[i]))
            done += 1
    learner.next()
    times = []
    for i in order[::-1][:5]:
        t = time.perf_counter()
        learner.label(int(i), int(y[i]))
        learner.next()
        times.append(time.perf_counter() - t)
        learner.undo()
    print(
        f"{target:>5} decisions: refresh after one more decision {np.median(times) * 1000:.0f} ms (median of 5)"
    )
