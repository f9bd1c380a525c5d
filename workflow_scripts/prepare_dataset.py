"""Rule prepare_dataset: one dataset from the config into results/data/{dataset}/."""

from pathlib import Path

from navref.data import prepare_dataset
from navref.workflow import rule_context

with rule_context(snakemake) as log:  # noqa: F821 (snakemake is injected by script:)
    prepare_dataset(
        dict(snakemake.params.cfg),  # noqa: F821
        Path(snakemake.output.info).parent,  # noqa: F821
        workers=snakemake.threads,  # noqa: F821
        log=log,
    )
