"""Rule memorization_train: the train split area-downsampled for the memorization search."""

from pathlib import Path

from navref.evaluation import memorization_train
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    memorization_train(Path(sm.input.info).parent, sm.params.resolution, sm.output[0], log)
