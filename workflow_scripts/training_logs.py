"""Rule training_logs: every model's per-step training log in one table."""

import pandas as pd

from navref.io import save_parquet
from navref.training.loss_window import LOG_COLUMNS
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    frames = []
    for model, path in zip(sm.params.models, sm.input, strict=True):
        frame = pd.read_parquet(path)
        frame.insert(0, "model", model)
        frames.append(frame)
    empty = pd.DataFrame(columns=["model", *LOG_COLUMNS])  # only released models: no training
    save_parquet(sm.output[0], pd.concat(frames, ignore_index=True) if frames else empty)
