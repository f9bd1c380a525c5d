"""Rule oracle_tables: gather the oracle curves and compute every curve's split time."""

from navref.analysis.oracle_runs import oracle_tables
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    oracle_tables(
        sm.input.objective, sm.input.synthetic, sm.params.threshold, dict(sm.output.items()), log
    )
