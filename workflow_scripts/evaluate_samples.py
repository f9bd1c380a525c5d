"""Rule evaluate_samples: FID, KID, precision/recall and memorization of one sample set."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from navref.io import save_parquet
from navref.jobs import split_images
from navref.metrics.fidelity import check_feature_extractor, compute_metrics
from navref.metrics.memorization import downsample_images, memorization_metrics
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    cfg = sm.params.cfg
    weights = sm.input.feature_net if "feature_net" in sm.input.keys() else cfg["weights_path"]
    check_feature_extractor(cfg["feature_extractor"], weights)  # before any work
    device = resolve_device(sm.params.device)
    with np.load(sm.input.samples, allow_pickle=False) as f:
        images, info = f["images"], json.loads(str(f["info"]))
    metrics = compute_metrics(
        images, sm.input.reference, cfg["feature_extractor"], weights,
        kid_subset_size=cfg["kid_subset_size"], prc_neighborhood=cfg["prc_neighborhood"],
        batch_size=cfg["batch_size"], device=device,
    )  # fmt: skip
    # uint8 in, converted chunk by chunk: the train split is streamed from its memmap
    if cfg["memorization_resolution"]:
        train = np.load(sm.input.memorization_train, mmap_mode="r")
        queries = downsample_images(images, int(cfg["memorization_resolution"]))
    else:
        train = split_images(Path(sm.input.info).parent, "train")
        queries = images
    log.info("memorization: %s samples against %s train images", queries.shape, train.shape)
    mem = memorization_metrics(
        queries, train, threshold=cfg["memorization_threshold"], device=device
    )
    row = {
        "sweep": sm.wildcards.sweep,
        "setting": sm.wildcards.setting,
        **info,
        **{k: v for k, v in metrics.items() if not isinstance(v, (list, dict))},
        "memorization_share": mem["memorization_share"],
        "mean_nn1_dist": mem["mean_nn1_dist"],
    }
    log.info("metrics: %s", row)
    save_parquet(sm.output[0], pd.DataFrame([row]))
