"""Rule oracle_tables: gather the oracle curves and compute every curve's split time."""

import pandas as pd

from navref.analysis.oracle_curves import split_times
from navref.io import save_parquet
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    objective = pd.concat([pd.read_parquet(p) for p in sm.input.objective], ignore_index=True)
    synthetic = pd.concat([pd.read_parquet(p) for p in sm.input.synthetic], ignore_index=True)
    thr = sm.params.threshold
    a = split_times(objective, ["space", "conditional"], thr)
    a.insert(0, "curve", "objective")
    b = split_times(synthetic, ["dim", "size"], thr)
    b.insert(0, "curve", "synthetic")
    splits = pd.concat([a, b], ignore_index=True)
    log.info("split times (threshold %.2f):\n%s", thr, splits.to_string())
    save_parquet(sm.output.objective, objective)
    save_parquet(sm.output.synthetic, synthetic)
    save_parquet(sm.output.split_times, splits)
