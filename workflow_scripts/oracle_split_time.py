"""Rule oracle_split_time: the split times of one latent space."""

from navref.analysis.oracle_runs import space_split_times
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    space_split_times(list(sm.input), sm.params.threshold, sm.output[0], log)
