"""Rules probe_mixed and probe_unseen: one model at one switch time tau."""

from pathlib import Path

import pandas as pd

from navref.io import save_parquet
from navref.jobs import resolve_tau, run_mixed, run_unseen
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    space_dir = Path(sm.input.stats).parent
    splits = pd.read_parquet(sm.input.split_times) if "split_times" in sm.input.keys() else None
    tau = resolve_tau(sm.wildcards.tau, splits, space_dir.name)
    log.info("tau %s -> %.4f", sm.wildcards.tau, tau)
    run = run_mixed if sm.rule == "probe_mixed" else run_unseen
    summary = run(
        Path(sm.input.model).parent,
        space_dir,
        tau,
        sm.params.cfg,
        sm.params.seed,
        resolve_device(sm.params.device),
        Path(sm.output.grid),
    )
    summary.insert(0, "tau_spec", sm.wildcards.tau)
    save_parquet(sm.output.table, summary)
