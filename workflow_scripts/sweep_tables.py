"""Rule sweep_tables: the per-sweep metrics tables (rule sweep_metrics) one after the other,
the table the claims read (``metrics/sweeps.parquet``)."""

from navref.evaluation import concat_metrics
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    concat_metrics(list(sm.input), sm.output[0])
