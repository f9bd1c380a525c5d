"""Rule report_tables: Tab. 1-3 beside the paper's numbers, and the split-time table."""

import pandas as pd

from navref.report.build import build_tables, tau_map_from
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    tau_map = tau_map_from(sm.params.cfg, pd.read_parquet(sm.input.split_times))
    build_tables(sm.input.sweeps, sm.input.split_times, dict(sm.output.items()), tau_map)
