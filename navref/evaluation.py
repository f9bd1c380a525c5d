"""Evaluation of sample sets (Tab. 1-3 metrics): the jobs of rules ``reference_stats``,
``memorization_train`` and ``evaluate_samples``.

FID / KID / precision-recall come from :mod:`navref.metrics.fidelity` against reference
statistics of the dataset's real train images, computed once per dataset; memorization
(nearest training image, :mod:`navref.metrics.memorization`) is searched in the train split,
at full resolution or area-downsampled (``evaluation.memorization_resolution``). The train
split is streamed from its memory map (:func:`navref.data.splits.image_split`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from navref.data.splits import image_split
from navref.io import load_array, load_npz, save_parquet
from navref.metrics.feature_net import save_feature_net, train_feature_net
from navref.metrics.fidelity import check_feature_extractor, compute_metrics, reference_statistics
from navref.metrics.memorization import memorization_metrics, save_downsampled, to_pixels

__all__ = [
    "evaluate_sample_set",
    "fit_feature_net",
    "memorization_reference",
    "memorization_train",
    "reference_stats",
]


def fit_feature_net(
    dataset_dir: str | os.PathLike,
    settings: Mapping[str, Any],
    out_path: str | os.PathLike,
    device: str,
    log: logging.Logger,
) -> None:
    """The FID feature network of the default config: a classifier trained on the dataset's
    train split (``settings`` = ``evaluation.feature_net``), validation accuracy logged and
    saved beside the weights at ``out_path``."""
    x, y = image_split(dataset_dir, "train", allow_empty=True)
    xv, yv = image_split(dataset_dir, "val", allow_empty=True)
    model, metrics = train_feature_net(
        x, y, int(y.max()) + 1, val_images=xv, val_labels=yv,
        steps=settings["steps"], batch_size=settings["batch_size"], lr=settings["lr"],
        seed=settings["seed"], device=device,
    )  # fmt: skip
    log.info("feature net: validation accuracy %.4f (%s)", metrics["val_accuracy"], metrics)
    save_feature_net(model, out_path, metrics)


def reference_stats(
    dataset_dir: str | os.PathLike,
    settings: Mapping[str, Any],
    weights: str | os.PathLike | None,
    out_path: str | os.PathLike,
    device: str,
    log: logging.Logger,
) -> None:
    """Features and FID statistics of the dataset's real train images, saved to
    ``out_path``; ``settings`` is the ``evaluation`` config section, ``weights`` the feature
    net the pipeline trained (None: ``settings["weights_path"]``)."""
    weights = weights or settings["weights_path"]
    check_feature_extractor(settings["feature_extractor"], weights)  # before any work
    images, _ = image_split(dataset_dir, "train")
    ref = reference_statistics(
        images, settings["feature_extractor"], weights, out_path=out_path,
        reference_size=settings["reference_size"],
        prc_neighborhood=settings["prc_neighborhood"], seed=settings["reference_seed"],
        batch_size=settings["batch_size"], device=device,
    )  # fmt: skip
    log.info("reference statistics of %d images", ref["num_images"])


def memorization_train(
    dataset_dir: str | os.PathLike, resolution: int, out_path: str | os.PathLike, log: Any
) -> None:
    """The train split area-downsampled to ``resolution`` x ``resolution`` (``.npy``) for
    the memorization search."""
    train, _ = image_split(dataset_dir, "train")
    shape = save_downsampled(out_path, train, int(resolution), progress=True)
    log.info("train split %s -> %s", train.shape, shape)


def memorization_reference(inputs: Mapping[str, str], resolution: int | None) -> Any:
    """The train split the memorization metric searches (uint8, memory-mapped): the
    downsampled copy ``inputs["memorization_train"]`` when ``resolution`` is set, else the
    prepared dataset's train split (``inputs["info"]``'s folder). Shared by
    ``evaluate_samples`` and the mixed / unseen probes."""
    if resolution:
        return load_array(inputs["memorization_train"], "memorization_train")
    train, _ = image_split(Path(inputs["info"]).parent, "train")
    return train


def evaluate_sample_set(
    samples_path: str | os.PathLike,
    inputs: Mapping[str, str],
    settings: Mapping[str, Any],
    ids: Mapping[str, str],
    out_path: str | os.PathLike,
    device: str,
    log: logging.Logger,
) -> None:
    """One metrics row of a sample set (``.npz`` of rule ``sample_sweep``): ``ids`` (sweep,
    setting), the sample set's info, the fidelity metrics, ``memorization_share`` and
    ``mean_nn1_dist``. ``inputs`` holds ``reference``, ``info`` (the prepared dataset) and,
    when used, ``feature_net`` and ``memorization_train``."""
    weights = inputs.get("feature_net") or settings["weights_path"]
    check_feature_extractor(settings["feature_extractor"], weights)  # before any work
    sample_file = load_npz(samples_path, "sample_sweep")
    images, info = sample_file["images"], json.loads(str(sample_file["info"]))
    metrics = compute_metrics(
        images, inputs["reference"], settings["feature_extractor"], weights,
        kid_subset_size=settings["kid_subset_size"],
        prc_neighborhood=settings["prc_neighborhood"],
        batch_size=settings["batch_size"], device=device,
    )  # fmt: skip
    # uint8 in, converted chunk by chunk: the train split is streamed from its memmap
    train = memorization_reference(inputs, settings["memorization_resolution"])
    queries = to_pixels(images, settings["memorization_resolution"])
    log.info("memorization: %s samples against %s train images", queries.shape, train.shape)
    mem = memorization_metrics(
        queries, train, threshold=settings["memorization_threshold"], device=device
    )
    log.info("train split: %d byte-identical duplicate rows", mem["train_duplicates"])
    row = {
        **ids,
        **info,
        **{k: v for k, v in metrics.items() if not isinstance(v, (list, dict))},
        "memorization_share": mem["memorization_share"],
        "mean_nn1_dist": mem["mean_nn1_dist"],
        **{k: v for k, v in mem.items() if k.startswith("memorization_share_")},
    }
    log.info("metrics: %s", row)
    save_parquet(out_path, pd.DataFrame([row]))
