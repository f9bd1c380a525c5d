"""Rule probe_tables: gather the per-job probe tables into one tidy table per probe."""

import re
from pathlib import Path

import pandas as pd

from navref.io import save_parquet
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)


def gather(paths, parse):
    frames = []
    for p in paths:
        frame = pd.read_parquet(p)
        for i, (k, v) in enumerate(parse(Path(p)).items()):
            frame.insert(i, k, v)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


with rule_context(sm):
    meta = sm.params.models

    def by_model(model):
        m = meta[model]
        return {"model": model, "space": m["space"], "size": m["size"], "target": m["target"]}

    def ckpt(p):
        step = re.fullmatch(r"step(\d+)", p.stem)
        model = p.parent.name
        return {
            **by_model(model),
            "checkpoint": "ema" if p.stem == "ema" else "step",
            "step": int(step.group(1)) if step else int(meta[model]["steps"]),
        }

    save_parquet(sm.output.loss_curves, gather(sm.input.loss_curves, ckpt))
    save_parquet(sm.output.intermediate, gather(sm.input.intermediate, lambda p: by_model(p.stem)))
    save_parquet(sm.output.mixed, gather(sm.input.mixed, lambda p: by_model(p.parent.name)))
    save_parquet(sm.output.unseen, gather(sm.input.unseen, lambda p: by_model(p.parent.name)))
