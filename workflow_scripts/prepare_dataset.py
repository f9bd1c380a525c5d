"""Rule prepare_dataset: one dataset from the config into results/data/{dataset}/."""

from pathlib import Path

from navref.data import prepare_dataset
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    prepare_dataset(
        dict(sm.params.settings), Path(sm.output.info).parent, workers=sm.threads, log=log
    )
