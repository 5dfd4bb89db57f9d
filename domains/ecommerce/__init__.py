"""E-commerce personalised ranking (AW-MoE vs DIN vs DNN): user behaviour data, leave-one-out splits, sampled
negatives, long-tail user sets and numpy batch building (``data``); the measures live in ``shared.metrics.ctr``."""
