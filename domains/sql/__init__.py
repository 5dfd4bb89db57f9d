"""Text-to-SQL outcome reward models (GradeSQL-style): candidate pools, safe SQLite execution and labels, schema
text, and the selection rules a reward model is compared with.

Modules: ``data`` (questions, candidates, databases as polars frames; ``schema_text``), ``execute`` (read-only,
authorizer-guarded, time-limited SQLite execution; Spider and BIRD result comparison), ``labels``
(``label_candidates``), ``select`` (random, execution best-of-N, majority vote, reward-model best-of-N, oracle),
``orm`` (ORM training and evaluation on database-disjoint splits, either kind), ``orm_lm`` (GradeSQL's Yes/No
ORM on SmolLM2 + LoRA), ``generate`` (sampling candidate SQL with SmolLM2), ``cli`` (``ranksuite sql``).
"""
