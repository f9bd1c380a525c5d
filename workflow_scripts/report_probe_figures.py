"""Rule report_probe_figures: Fig. 4-9 and the training curves."""

from navref.report.build import build_probe_figures
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_probe_figures(dict(sm.input.items()), sm.params.settings, dict(sm.output.items()))
