"""Evaluation metrics: memorization / nearest neighbours (:mod:`navref.metrics.memorization`)
and the FID feature network (:mod:`navref.metrics.feature_net`)."""

from navref.metrics.memorization import (
    memorization_metrics,
    memorization_table,
    nearest_neighbours,
    summarize_memorization,
)

__all__ = [
    "memorization_metrics",
    "memorization_table",
    "nearest_neighbours",
    "summarize_memorization",
]
