"""Rule report_sweep_table: one of Tab. 1-3 beside the paper's numbers (see navref.report.build)."""

from navref.report.build import build_sweep_table
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_sweep_table(
        sm.wildcards.table,
        sm.input.sweeps,
        sm.input.split_times,
        dict(sm.output.items()),
        sm.params.settings,
        next(iter(sm.input.replicates), None),  # absent until the evaluation resamples
    )
