"""Rules probe_mixed and probe_unseen: one model at every switch time tau of the probe (the
taus are read from the tables' file names, tau<spec>.parquet)."""

from pathlib import Path

from navref.probe_runs import run_tau_probes
from navref.workflow import job_precision, resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    run_tau_probes(
        sm.rule.removeprefix("probe_"),
        [Path(p).stem.removeprefix("tau") for p in sm.output.table],
        Path(sm.input.model).parent,
        Path(sm.input.stats).parent,
        sm.input.split_times if "split_times" in sm.input.keys() else None,
        sm.params.settings,
        sm.params.seed,
        resolve_device(sm.params.device),
        sm.output.table,
        sm.output.grid,
        log,
        {k: sm.input[k] for k in ("info", "memorization_train") if k in sm.input.keys()},
        precision=job_precision(sm),
        control=(sm.input.gaussian_control if "gaussian_control" in sm.input.keys() else None),
    )
