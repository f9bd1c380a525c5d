"""Rule sweep_tables: every sample set's metrics in one table (Tab. 1-3 inputs)."""

import pandas as pd

from navref.io import save_parquet
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    rows = []
    for path in sm.input:
        frame = pd.read_parquet(path)
        meta = sm.params.meta[f"{frame['sweep'].iloc[0]}/{frame['setting'].iloc[0]}"]
        for k, v in meta.items():
            frame[k] = v
        rows.append(frame)
    save_parquet(sm.output[0], pd.concat(rows, ignore_index=True))
