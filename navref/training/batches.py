"""The randomness of training batches as a pure function of ``(seed, step)``.

Sample order is a fresh seeded permutation per epoch. The noise (t, x0 and the
label-dropout mask) is drawn one of two ways (``TrainConfig.noise``):

- ``global`` (the default): per step a ``torch.Generator`` seeded from
  ``SeedSequence([seed, 0, step])`` draws it for the whole *global* batch on the CPU; under
  DDP every rank draws the same global batch and keeps its contiguous shard;
- ``per_sample``: counter-based, each sample's from its own generator seeded by word pair j
  of ``SeedSequence([seed, 2, step])``, j its position in the global batch; each rank draws
  only its own shard (1 / world of the work), and the batch is the same for every world
  size. Other numbers than ``global``'s: a switch changes the trained weights.

Either way a resumed run sees the very same batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from navref.training.config import TrainConfig


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from a tuple of non-negative ints (numpy SeedSequence mixing)."""
    a, b = np.random.SeedSequence(list(keys)).generate_state(2, dtype=np.uint32)
    return (int(a) << 31) ^ int(b)


def row_seeds(seed: int, step: int, rows: range) -> list[int]:
    """The 63-bit seeds of the global-batch ``rows`` of ``step`` (``per_sample`` noise): row
    j's from words 2 j and 2 j + 1 of ``SeedSequence([seed, 2, step])``'s state, a
    counter-based stream (word i does not depend on how many are generated)."""
    words = np.random.SeedSequence([seed, 2, step]).generate_state(2 * rows.stop, np.uint32)
    return [(int(words[2 * j]) << 31) ^ int(words[2 * j + 1]) for j in rows]


class FlowBatchSampler:
    """The randomness of each global batch as a pure function of ``(seed, step)``.

    ``batch(step)`` returns ``idx`` (B,) int64 data indices, ``t`` (B,), ``x0``
    (B, *sample_shape) and ``drop`` (B,) bool (label dropped to the null class);
    ``shard(step, rank, world)`` a rank's rows of it. Sample order: epoch e is the
    permutation ``randperm(N)`` seeded by ``(seed, 1, e)``, and the global batch of step s
    covers positions [s B, (s + 1) B) of the concatenated epochs. Noise: ``conf.noise``
    (module docstring).
    """

    def __init__(self, conf: TrainConfig, num_samples: int, sample_shape: tuple[int, ...]) -> None:
        self.conf = conf
        self.n = num_samples
        self.shape = tuple(sample_shape)
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.pop(min(self._perms))
            g = torch.Generator().manual_seed(derive_seed(self.conf.seed, 1, epoch))
            self._perms[epoch] = torch.randperm(self.n, generator=g)
        return self._perms[epoch]

    def indices(self, step: int) -> torch.Tensor:
        b = self.conf.batch_size
        pos = torch.arange(step * b, (step + 1) * b)
        epochs, offs = pos // self.n, pos % self.n
        out = torch.empty(b, dtype=torch.long)
        for e in epochs.unique().tolist():
            m = epochs == e
            out[m] = self._perm(e)[offs[m]]
        return out

    def sample_t(self, b: int, g: torch.Generator) -> torch.Tensor:
        conf = self.conf
        if conf.time_sampling == "uniform":
            t = torch.rand(b, generator=g)
        else:
            z = torch.randn(b, generator=g)
            t = torch.sigmoid(conf.logit_normal_mean + conf.logit_normal_std * z)
        if conf.target == "oracle":
            t = t.clamp(max=conf.oracle_t_max)
        return t

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The global batch of ``step``: :meth:`shard` of a world of one."""
        return self.shard(step, 0, 1)

    def shard(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]:
        """Rank ``rank``'s contiguous ``batch_size // world`` samples of the global batch of
        ``step`` (keys as :meth:`batch`); equal, for any world size, to the same rows of
        the global batch. ``per_sample`` noise draws only these rows."""
        b = self.conf.batch_size // world
        rows = slice(rank * b, (rank + 1) * b)
        idx = self.indices(step)[rows]
        if self.conf.noise == "per_sample":
            return {"idx": idx, **self._noise_per_sample(step, range(rows.start, rows.stop))}
        b = self.conf.batch_size
        g = torch.Generator().manual_seed(derive_seed(self.conf.seed, 0, step))
        t = self.sample_t(b, g)
        x0 = torch.randn((b, *self.shape), generator=g)
        drop = torch.rand(b, generator=g) < self.conf.label_dropout
        return {"idx": idx, "t": t[rows], "x0": x0[rows], "drop": drop[rows]}

    def _noise_per_sample(self, step: int, positions: range) -> dict[str, torch.Tensor]:
        """t (n,), x0 (n, *sample_shape), drop (n,) of the global-batch ``positions`` of
        ``step``, each row from its own generator seeded by :func:`row_seeds`."""
        t, x0, drop = [], [], []
        for row_seed in row_seeds(self.conf.seed, step, positions):
            g = torch.Generator().manual_seed(row_seed)
            t.append(self.sample_t(1, g))
            x0.append(torch.randn((1, *self.shape), generator=g))
            drop.append(torch.rand(1, generator=g) < self.conf.label_dropout)
        return {"t": torch.cat(t), "x0": torch.cat(x0), "drop": torch.cat(drop)}


def shard_on_cpu(
    sampler: FlowBatchSampler,
    step: int,
    latents: Any,
    labels: torch.Tensor,
    rank: int,
    world: int,
    null_class: int,
    pin: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """This rank's shard of the global batch of ``step`` on the CPU: x0, x1
    (B / world, C, H, W), t, y (B / world,) with label dropout applied (dropped labels are
    ``null_class``); in pinned memory with ``pin`` (for asynchronous copies to a GPU)."""
    part = sampler.shard(step, rank, world)
    idx = part["idx"]
    x1 = torch.from_numpy(np.ascontiguousarray(latents[idx.numpy()], dtype=np.float32))
    y = labels[idx].masked_fill(part["drop"], null_class)
    shard = (part["x0"], x1, part["t"], y)
    return tuple(a.pin_memory() for a in shard) if pin else shard


def batch_on_rank(
    sampler: FlowBatchSampler,
    step: int,
    latents: Any,
    labels: torch.Tensor,
    rank: int,
    world: int,
    null_class: int,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`shard_on_cpu` moved to ``device`` (x0, x1, t, y)."""
    shard = shard_on_cpu(sampler, step, latents, labels, rank, world, null_class)
    return tuple(a.to(device) for a in shard)


def batches_on_rank(
    sampler: FlowBatchSampler,
    steps: range,
    latents: Any,
    labels: torch.Tensor,
    rank: int,
    world: int,
    null_class: int,
    device: torch.device,
    prefetch: bool | None = None,
) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
    """``(step, batch_on_rank(..., step, ...))`` for each of ``steps``. With ``prefetch``
    (default: on CUDA) the next step's shard is gathered in a background thread while the
    current step trains; on CUDA into pinned memory, copied asynchronously. Without it each
    shard is made in line. The tensors are the same either way (a batch is a pure function
    of ``(seed, step)``)."""
    if prefetch is None:
        prefetch = device.type == "cuda"
    if not prefetch:
        for step in steps:
            yield (
                step,
                batch_on_rank(sampler, step, latents, labels, rank, world, null_class, device),
            )
        return
    nb = device.type == "cuda"
    args = (latents, labels, rank, world, null_class, nb)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = {s: pool.submit(shard_on_cpu, sampler, s, *args) for s in steps[:1]}
        for i, step in enumerate(steps):
            if i + 1 < len(steps):
                nxt = steps[i + 1]
                pending[nxt] = pool.submit(shard_on_cpu, sampler, nxt, *args)
            shard = pending.pop(step).result()
            yield step, tuple(a.to(device, non_blocking=nb) for a in shard)
