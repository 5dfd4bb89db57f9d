"""Screening prioritisation for systematic reviews: read the records reviewers export, rank them for screening."""
