"""Rule probe_tables: gather the per-job probe tables into one tidy table per probe."""

from navref.probe_runs import gather_probe_tables
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    gather_probe_tables(
        {k: list(v) for k, v in sm.input.items()}, sm.params.models, dict(sm.output.items())
    )
