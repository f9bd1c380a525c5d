"""Rule sample_sweep: the sample sets of one sweep setting, one per seed (see navref.sweeps.sampling)."""

from pathlib import Path

from navref.sweeps.sampling import generate
from navref.workflow import job_precision, resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
branch = sm.params.branch
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
        list(sm.output.samples),
        num_samples=int(sm.params.num_samples),
        seeds=[int(s) for s in sm.params.seeds],
        device=resolve_device(sm.params.device),
        batch_size=int(sm.params.batch_size),
        log=log,
        precision=job_precision(sm),
        branch=None if branch is None else (list(sm.input.branch_states), int(branch["step"])),
        states_out=list(sm.output.states),
        keep_steps=[int(k) for k in sm.params.keep_steps],
    )
