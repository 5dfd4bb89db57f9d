"""Code candidate ranking with execution feedback (RankEF, CodeRanker): problems and candidate pools, a sandbox
for untrusted generated programs, execution labelling, rankers and their CLI (``ranksuite code``).

Modules: ``data`` (problems and candidates as polars frames, RankEF's three classes), ``sandbox`` (namespaced,
resource-limited execution of one program per process), ``execute`` (label candidates by running their tests),
``inputs`` (what a ranker reads: the candidate as shown, the cut to the window, the feedback targets), ``model``
(classifier-only and RankEF-style rankers on MiniLM or SmolLM2), ``train`` (problem-level splits, the shared
trainer), ``evaluate`` (ranked pass@k beside random, frequency and oracle), ``rank``, ``cli``.
"""
