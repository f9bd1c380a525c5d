"""Rule sweep_metrics: the metrics of every sample set of one sweep in one table, each row
completed with its setting's models and their sizes (Tab. 1-3 inputs)."""

from navref.evaluation import gather_metrics
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    gather_metrics(list(sm.input), sm.params.meta, sm.output[0])
