"""Rule report_claims_html: the claims check as an HTML table for the report."""

from navref.report.build import build_claims_html
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_claims_html(sm.input[0], sm.output[0])
