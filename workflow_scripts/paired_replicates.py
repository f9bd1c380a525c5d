"""Rule paired_replicates: one sweep's bootstrap replicates per setting in one table."""

from navref.sweeps.paired import gather_replicates
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    gather_replicates(
        list(sm.input),
        sm.wildcards.sweep,
        sm.params.settings,
        sm.output[0],
        train_replicates=sm.params.train_replicates,
    )
