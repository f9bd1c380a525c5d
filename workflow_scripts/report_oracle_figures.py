"""Rule report_oracle_figures: Fig. 2 (objective gap, top-1 weight) and Fig. 3 (synthetic)."""

from navref.report.build import build_oracle_figures
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_oracle_figures(
        sm.input.objective, sm.input.synthetic, sm.input.split_times, dict(sm.output.items())
    )
