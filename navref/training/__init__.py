"""Rectified-flow (conditional flow matching) training of a class-conditional DiT.

Path, CFM target and time convention: :mod:`navref.path`. The regression target is the CFM
target or the oracle velocity v*(x_t, t | y) (Theorem 2.1; :mod:`.targets`). Optimiser:
AdamW, defaults from the paper's Appendix C (lr 1e-4 constant, weight decay 0, grad-norm
clip 1.0, EMA 0.9999, t ~ U[0, 1], label dropout 0.1). The paper does not give Adam's betas;
the default is PyTorch's / DiT's (0.9, 0.999). LightningDiT's own configs use (0.9, 0.95):
set ``betas`` to that to follow it.

Determinism and resume. All randomness of a step (which samples, t, x0, label dropout) is
a pure function of ``(seed, step)`` (:mod:`.batches`). Hence

- a run resumed from a checkpoint (model, EMA, optimiser state, step, RNG states)
  continues bitwise identically to an uninterrupted run on the CPU;
- with DDP (``torchrun``; gloo on CPU, nccl on CUDA) every rank draws the same global
  batch and keeps its contiguous shard, so W processes compute the same update as one
  process with the same global batch (up to float summation order).

Only rank 0 writes files. Outputs in ``out_dir``: ``model.safetensors`` (EMA weights,
plain DiT state-dict keys) + ``model.json``; ``train_log.parquet``;
``checkpoints/step_XXXXXXXX.{safetensors,json}`` at ``checkpoint_steps`` and a rolling
``checkpoints/last.{safetensors,json}`` every ``save_every`` steps and at the end.

Modules: :mod:`.config` (``TrainConfig``), :mod:`.batches` (randomness of a batch),
:mod:`.targets`, :mod:`.optim` (warm-up, EMA), :mod:`.state` (state and checkpoints),
:mod:`.loss_window` (the log), :mod:`.loop` (``train``), :mod:`.loading` (``load_model``),
:mod:`.job` (the workflow's entry point, one process or DDP), :mod:`.cli`
(``python -m navref.training``).
"""

from navref.training.batches import FlowBatchSampler
from navref.training.config import TrainConfig
from navref.training.job import run_training, train_on_space
from navref.training.loading import load_model
from navref.training.loop import train
from navref.training.targets import oracle_target

__all__ = [
    "FlowBatchSampler",
    "TrainConfig",
    "load_model",
    "oracle_target",
    "run_training",
    "train",
    "train_on_space",
]
