"""Rule train_model: a DiT trained with rectified flow on its latent space's train split.

One process normally; with ``resources: gpu: N`` (N > 1) the same training runs under
``torchrun --nproc_per_node N -m navref.train`` (DDP). A killed job resumes from
``results/models/{model}/checkpoints/last.*`` when it is run again with the same config;
a changed config starts afresh (the old checkpoints are moved aside, not mixed in).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from navref.io import atomic_path
from navref.latents import LatentSpace
from navref.training import train
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    cfg = sm.params.cfg
    out = Path(sm.output.weights).parent
    ckpt = out / "checkpoints"
    # Resume only a run of the very same configuration.
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
    stamp = out / "config_digest.txt"
    if ckpt.exists() and (not stamp.exists() or stamp.read_text().strip() != digest):
        old = out / f"checkpoints.stale-{digest}"
        log.warning("config changed since the last run: moving %s to %s", ckpt, old)
        shutil.rmtree(old, ignore_errors=True)
        ckpt.rename(old)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(stamp) as tmp:
        tmp.write_text(digest + "\n")
    if ckpt.exists():
        log.info("resuming from checkpoints in %s", ckpt)

    gpus = int(getattr(sm.resources, "gpu", 0) or 0)
    model_cfg, train_cfg = dict(cfg["arch"]), dict(cfg["train"])
    if gpus > 1:
        run_cfg = out / "run_config.json"
        with atomic_path(run_cfg) as tmp:
            tmp.write_text(json.dumps({"model": model_cfg, "train": train_cfg}, indent=2))
        space = LatentSpace.load(Path(sm.input.stats).parent)
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={gpus}", "-m", "navref.train",
            "--latents", sm.input.latents, "--labels-from", sm.input.meta, "--split", "train",
            "--num-classes", str(space.stats["num_classes"]), "--config", str(run_cfg),
            "--out", str(out), "--no-progress",
        ]  # fmt: skip
        log.info("DDP on %d GPUs: %s", gpus, " ".join(cmd))
        subprocess.run(cmd, check=True, stderr=sys.stderr, stdout=sys.stderr, env=os.environ)
    else:
        space = LatentSpace.load(Path(sm.input.stats).parent)
        latents, labels = space.split_arrays("train")
        log.info("training %s on %s latents %s", cfg["arch"], sm.wildcards.model, latents.shape)
        train(
            train_cfg,
            model_cfg,
            latents,
            labels,
            int(space.stats["num_classes"]),
            out,
            log=log.info,
            device=resolve_device(sm.params.device),
        )
