"""Rule report_claims: the paper's eight claims tested on our results."""

import pandas as pd

from navref.report.build import build_claims, tau_map_from
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    cfg = sm.params.cfg
    tau_map = tau_map_from(cfg, pd.read_parquet(sm.input.split_times))
    records = build_claims(dict(sm.input.items()), cfg, tau_map, sm.output.md, sm.output.parquet)
    for r in records:
        log.info("claim %s: %s (%s)", r["claim_id"], r["verdict"], r["why"])
