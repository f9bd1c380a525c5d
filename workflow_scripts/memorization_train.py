"""Rule memorization_train: the train split area-downsampled for the memorization search."""

from pathlib import Path

from navref.jobs import split_images
from navref.metrics.memorization import save_downsampled
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    train = split_images(Path(sm.input.info).parent, "train")
    shape = save_downsampled(sm.output[0], train, int(sm.params.resolution), progress=True)
    log.info("train split %s -> %s", train.shape, shape)
