"""Rule report_split_table: the split-time table (Markdown, Parquet, HTML)."""

from navref.report.build import build_split_table
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_split_table(sm.input[0], dict(sm.output.items()))
