"""Rules report_fig2 ... report_fig9, report_training: one paper figure each."""

from navref.report.build import build_figure
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_figure(
        sm.params.figure, dict(sm.input.items()), sm.params.settings, dict(sm.output.items())
    )
