"""DUQGen: unsupervised domain adaptation of a ranker with diversified synthetic queries (Chandradevan & Agichtein,
2024), on a target collection that has documents and nothing else.

One module per step, each writing its own artefact into a run folder so any step can be inspected and rerun:

- ``cluster``: embed the target documents (MiniLM bi-encoder), drop very short ones, k-means into K clusters;
- ``sample``: N training documents, ``1 + floor((N - K) |c| / |D|)`` per cluster, drawn by a softmax of the cosine
  similarity to the centroid (T = 1), seeded; ``random`` for the ablation;
- ``generate``: one query per document, few-shot (3 examples), greedy, batched and resumable; broken queries counted;
- ``negatives``: BM25's top-100 for each synthetic query, 4 negatives from its lower part (1 positive : 4);
- ``adapt``: fine-tune a base ranker with the shared trainer (optionally Margin-MSE on a cross-encoder teacher's
  scores, GPL-style, and round-trip filtering);
- ``evaluate``: the only step that reads the target's test queries and qrels, after everything else.

``run`` chains the first five; ``data.forbid_test_data`` makes reading test queries or qrels during them an error.
"""
