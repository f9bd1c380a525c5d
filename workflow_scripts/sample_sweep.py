"""Rule sample_sweep: one sample set of one sweep setting (see navref.sweeps)."""

from pathlib import Path

from navref.sweeps import generate
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    generate(
        sm.wildcards.sweep,
        dict(sm.params.setting),
        {
            k.removeprefix("model_"): Path(p).parent
            for k, p in sm.input.items()
            if k.startswith("model_")
        },
        Path(sm.input.stats).parent,
        sm.input.split_times,
        sm.output[0],
        num_samples=int(sm.params.num_samples),
        seed=int(sm.wildcards.seed),
        device=resolve_device(sm.params.device),
        batch_size=int(sm.params.batch_size),
        log=log,
    )
