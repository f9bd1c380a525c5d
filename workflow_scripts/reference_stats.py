"""Rule reference_stats: features and FID statistics of the real train images, computed
once per dataset and feature network (not through torch-fidelity's name-keyed cache)."""

from pathlib import Path

from navref.jobs import split_images
from navref.metrics.fidelity import check_feature_extractor, reference_statistics
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    cfg = sm.params.cfg
    weights = sm.input.feature_net if "feature_net" in sm.input.keys() else cfg["weights_path"]
    check_feature_extractor(cfg["feature_extractor"], weights)  # before any work
    images = split_images(Path(sm.input.info).parent, "train")
    ref = reference_statistics(
        images, cfg["feature_extractor"], weights, out_path=sm.output[0],
        reference_size=cfg["reference_size"], prc_neighborhood=cfg["prc_neighborhood"],
        seed=cfg["reference_seed"], batch_size=cfg["batch_size"],
        device=resolve_device(sm.params.device),
    )  # fmt: skip
    log.info("reference statistics of %d images", ref["num_images"])
