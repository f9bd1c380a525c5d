"""Rule report_tables: Tab. 1-3 beside the paper's numbers, and the split-time table."""

from navref.report.build import build_tables
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_tables(sm.input.sweeps, sm.input.split_times, dict(sm.output.items()), sm.params.settings)
