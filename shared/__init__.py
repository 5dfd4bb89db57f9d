"""Shared building blocks (data, losses, metrics, models, retrieval) used by every ranker in ranksuite."""
