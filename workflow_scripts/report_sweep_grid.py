"""Rule report_sweep_grid: the first samples of each setting of one sweep, a row per setting."""

from navref.report.build import build_sweep_grid
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_sweep_grid(
        sm.wildcards.table,
        dict(zip(sm.params.settings, sm.input.samples, strict=True)),
        dict(sm.output.items()),
    )
