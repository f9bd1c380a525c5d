"""Rule probe_tables: gather one probe's per-job tables into its tidy table."""

from navref.probe_runs import gather_probe_tables
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    gather_probe_tables(
        {k: list(v) for k, v in sm.input.items()},
        sm.params.models,
        {sm.wildcards.probe: sm.output[0]},
    )
