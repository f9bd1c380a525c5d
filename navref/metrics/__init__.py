"""Evaluation metrics: memorization / nearest neighbours (:mod:`navref.metrics.memorization`)
and the FID feature network (:mod:`navref.metrics.feature_net`)."""

from navref.metrics.memorization import (
    downsample_images,
    memorization_metrics,
    memorization_table,
    nearest_neighbours,
    save_downsampled,
    summarize_memorization,
)

__all__ = [
    "downsample_images",
    "memorization_metrics",
    "memorization_table",
    "nearest_neighbours",
    "save_downsampled",
    "summarize_memorization",
]
