"""Evaluation of sample sets (Tab. 1-3 metrics): the jobs of rules ``reference_stats``,
``memorization_train`` and ``evaluate_sweep_<kind>``.

FID / KID / precision-recall come from :mod:`navref.metrics.fidelity` against reference
statistics of the dataset's real train images, computed once per dataset; memorization
(nearest training image, :mod:`navref.metrics.memorization`) is searched in the train split,
at full resolution or area-downsampled (``evaluation.memorization_resolution``). The train
split is streamed from its memory map (:func:`navref.data.splits.image_split`).

``evaluate_sweep_<kind>`` is one job per sweep (and data set) over all its settings and
seeds: the feature net, reference statistics and train split are loaded once for all of
them (a job's fixed cost was most of a per-seed job). Beside the metrics it writes
per-sample bootstrap replicates of FID (:mod:`navref.metrics.bootstrap`), paired across settings by their shared seed.

torch-fidelity (~2 s to import) is imported by the functions that use it only, so the
probes, which share :func:`memorization_reference`, do not pay for it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from navref.data.splits import image_split
from navref.io import load_array, load_npz, save_parquet

__all__ = [
    "BOOTSTRAP_COLUMNS",
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
    from navref.metrics.feature_net import save_feature_net, train_feature_net

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
    from navref.metrics.fidelity import check_feature_extractor, reference_statistics

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
    from navref.metrics.memorization import save_downsampled

    train, _ = image_split(dataset_dir, "train")
    shape = save_downsampled(out_path, train, int(resolution), progress=True)
    log.info("train split %s -> %s", train.shape, shape)


def memorization_reference(inputs: Mapping[str, str], resolution: int | None) -> Any:
    """The train split the memorization metric searches (uint8, memory-mapped): the
    downsampled copy ``inputs["memorization_train"]`` when ``resolution`` is set, else the
    prepared dataset's train split (``inputs["info"]``'s folder). Shared by
    ``evaluate_sweep_<kind>`` and the mixed / unseen probes."""
    if resolution:
        return load_array(inputs["memorization_train"], "memorization_train")
    train, _ = image_split(Path(inputs["info"]).parent, "train")
    return train


#: Columns of the bootstrap file of rule ``evaluate_sweep_<kind>`` (one row per seed x replicate):
#: replicate b of every setting with the same seed and sample count resamples the same
#: sample indices (:func:`navref.metrics.bootstrap.bootstrap_indices`).
BOOTSTRAP_COLUMNS = ("seed", "replicate", "fid")


def evaluate_settings(
    groups: Sequence[Mapping[str, Any]],
    inputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    device: str,
    log: logging.Logger,
) -> None:
    """Rules ``evaluate_sweep_<kind>`` (one group per setting of a sweep, of one data set).
    A group is one setting: ``ids`` (sweep, setting), ``samples`` (its sample
    files, ``.npz`` of rule ``sample_sweep``, one per seed), ``metrics`` and ``bootstrap``
    (its output paths). Per group, one row per sample set at ``metrics``: ``ids``, the set's
    info (its seed among them), the fidelity metrics, ``memorization_share(_q..)`` and
    ``mean_nn1_dist``; and FID's bootstrap replicates (``settings["bootstrap_replicates"]``
    per set, 0: none) at ``bootstrap``, columns :data:`BOOTSTRAP_COLUMNS`, computed on the
    features of the FID. ``inputs`` holds ``reference``, ``info`` (the prepared dataset)
    and, when used, ``feature_net`` and ``memorization_train``; the feature network, the
    reference statistics and the train split are loaded once for all groups. Each group's
    files are bitwise what a job of that group alone writes: no state passes from one group to the next (bootstrap indices and KID subsets
    are drawn from the seed of each set)."""
    from navref.metrics.bootstrap import sqrt_psd
    from navref.workflow import mark

    scorer = _scorer(inputs, settings, device)
    train = memorization_reference(inputs, settings["memorization_resolution"])
    mark(log, "inputs loaded")
    num_replicates = int(settings.get("bootstrap_replicates") or 0)
    root = sqrt_psd(scorer.ref["sigma"]) if num_replicates else None  # once for all sets
    for group in groups:
        _evaluate_group(group, scorer, train, root, settings, num_replicates, device, log)


def _evaluate_group(
    group: Mapping[str, Any],
    scorer: Any,
    train: Any,
    root: Any,
    settings: Mapping[str, Any],
    num_replicates: int,
    device: str,
    log: logging.Logger,
) -> None:
    """The metrics and bootstrap files of one setting (see :func:`evaluate_settings`)."""
    import numpy as np
    import pandas as pd

    from navref.metrics.bootstrap import bootstrap_indices, fid_replicates

    rows, replicates = [], []
    for path in group["samples"]:
        images, info = _load_samples(path)
        metrics, features = scorer.metrics(images)
        rows.append(_metrics_row(images, info, metrics, group["ids"], train, settings, device, log))
        seed = int(info["seed"])
        idx = bootstrap_indices(len(features), num_replicates, seed)
        fid = fid_replicates(features, scorer.ref["mu"], scorer.ref["sigma"], idx, root)
        replicates.append(pd.DataFrame({"seed": seed, "replicate": range(num_replicates)}))
        replicates[-1]["fid"] = fid
        log.info("seed %d: %d bootstrap replicates of FID", seed, num_replicates)
    save_parquet(group["metrics"], pd.DataFrame(rows))
    boot = pd.concat(replicates, ignore_index=True)
    boot = boot.astype({"seed": np.int64, "replicate": np.int64, "fid": np.float64})
    save_parquet(group["bootstrap"], boot[list(BOOTSTRAP_COLUMNS)])


def _scorer(inputs: Mapping[str, Any], settings: Mapping[str, Any], device: str) -> Any:
    """The :class:`navref.metrics.fidelity.ReferenceMetrics` of the evaluation settings (the
    weights checked before any work)."""
    from navref.metrics.fidelity import ReferenceMetrics

    weights = inputs.get("feature_net") or settings["weights_path"]
    return ReferenceMetrics(
        inputs["reference"], settings["feature_extractor"], weights,
        kid_subset_size=settings["kid_subset_size"],
        prc_neighborhood=settings["prc_neighborhood"],
        batch_size=settings["batch_size"], device=device,
    )  # fmt: skip


def _load_samples(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """The uint8 images (N, H, W, C) and the info of a ``sample_sweep`` file."""
    sample_file = load_npz(path, "sample_sweep")
    return sample_file["images"], json.loads(str(sample_file["info"]))


def _metrics_row(
    images: Any,
    info: Mapping[str, Any],
    metrics: Mapping[str, Any],
    ids: Mapping[str, str],
    train: Any,
    settings: Mapping[str, Any],
    device: str,
    log: logging.Logger,
) -> dict[str, Any]:
    """The metrics row of one sample set: ids, info, fidelity and memorization metrics."""
    from navref.metrics.memorization import memorization_metrics, to_pixels

    # uint8 in, converted chunk by chunk: the train split is streamed from its memmap
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
    return row


# ------------------------------------------------------------------- gathering the metrics
# The one gathering of the sweeps' per-seed metrics (rule sweep_metrics: one table per sweep,
# metrics/<sweep>.parquet, which its table reads) and the claims' table of every sweep's rows
# (rule sweep_tables: those tables one after the other, metrics/sweeps.parquet).


def gather_metrics(
    paths: Sequence[str | os.PathLike],
    meta: Mapping[str, Mapping[str, Any]],
    out_path: str | os.PathLike,
) -> None:
    """Rule ``sweep_metrics``: the metrics rows of one sweep's sample sets (``paths``, one file
    per run: a setting under one training replicate) in one table
    (``results/<run_name>/metrics/<sweep>.parquet``), each row completed with
    ``meta["<sweep>/<run key>"]`` (the key is the file's ``setting``): its models and their
    sizes, and where given the run's setting id (``setting``) and training replicate
    (``train_replicate``, :mod:`navref.replicates`). Every row has the int column
    ``train_replicate`` right after ``setting`` (0 where ``meta`` gives none), so rows pair
    within (``train_replicate``, ``seed``)."""
    import pandas as pd

    from navref.io import save_parquet

    rows = []
    for path in paths:
        frame = pd.read_parquet(path)
        for k, v in meta[f"{frame['sweep'].iloc[0]}/{frame['setting'].iloc[0]}"].items():
            frame[k] = v
        rows.append(_with_train_replicate(frame))
    save_parquet(out_path, pd.concat(rows, ignore_index=True))


def _with_train_replicate(frame: Any) -> Any:
    """``frame`` with an int64 ``train_replicate`` column right after ``setting`` (0 where
    it has none)."""
    import numpy as np
    import pandas as pd

    if "train_replicate" in frame.columns:
        rep = frame.pop("train_replicate")
    else:
        rep = pd.Series(0, index=frame.index)
    at = frame.columns.get_loc("setting") + 1 if "setting" in frame.columns else 0
    frame.insert(at, "train_replicate", rep.astype(np.int64).to_numpy())
    return frame


def concat_metrics(paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> None:
    """Rule ``sweep_tables``: the per-sweep tables of :func:`gather_metrics` (``paths``) one
    after the other (``results/<run_name>/metrics/sweeps.parquet``, the claims' input); a
    column one sweep lacks is missing (NaN) in its rows, but ``train_replicate`` is an int
    column of every row (0 in a table gathered before the column existed). The same file,
    byte for byte, as gathering every setting's rows at once."""
    import pandas as pd

    from navref.io import save_parquet

    frames = [_with_train_replicate(pd.read_parquet(path)) for path in paths]
    save_parquet(out_path, pd.concat(frames, ignore_index=True))
