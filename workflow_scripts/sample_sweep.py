"""Rule sample_sweep: one sample set of one sweep (stage_swap / timestep_shift / cfg_interval)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from navref.io import atomic_path
from navref.jobs import resolve_tau, run_generation
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    sweep = sm.wildcards.sweep
    setting = dict(sm.params.setting)
    space_dir = Path(sm.input.stats).parent
    splits = pd.read_parquet(sm.input.split_times)
    split_time = None
    try:
        split_time = resolve_tau("s1", splits, space_dir.name)
    except ValueError as err:
        log.warning("no split time for %s: %s", space_dir.name, err)
    if sweep == "stage_swap":
        setting["tau"] = resolve_tau(setting["tau"], splits, space_dir.name)
    models = {
        key.removeprefix("model_"): Path(path).parent
        for key, path in sm.input.items()
        if key.startswith("model_")
    }
    images, labels, info = run_generation(
        sweep,
        setting,
        models,
        space_dir,
        int(sm.params.num_samples),
        int(sm.wildcards.seed),
        resolve_device(sm.params.device),
        split_time=split_time,
        batch_size=int(sm.params.batch_size),
        log=log.info,
    )
    log.info("generated %s images: %s", images.shape, info)
    with atomic_path(sm.output[0], suffix=".npz") as tmp:
        np.savez(tmp, images=images, labels=labels, info=np.array(json.dumps(info)))
