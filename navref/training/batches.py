"""The randomness of training batches as a pure function of ``(seed, step)``.

Sample order is a fresh seeded permutation per epoch, and per step a ``torch.Generator``
seeded from ``SeedSequence([seed, step])`` draws t, x0 and the label-dropout mask for the
whole *global* batch on the CPU. A resumed run therefore sees the very same batches, and
under DDP every rank draws the same global batch and keeps its contiguous shard.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from navref.training.config import TrainConfig


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from a tuple of non-negative ints (numpy SeedSequence mixing)."""
    a, b = np.random.SeedSequence(list(keys)).generate_state(2, dtype=np.uint32)
    return (int(a) << 31) ^ int(b)


class FlowBatchSampler:
    """The randomness of each global batch as a pure function of ``(seed, step)``.

    ``batch(step)`` returns ``idx`` (B,) int64 data indices, ``t`` (B,), ``x0``
    (B, *sample_shape) and ``drop`` (B,) bool (label dropped to the null class). Sample
    order: epoch e is the permutation ``randperm(N)`` seeded by ``(seed, 1, e)``, and the
    global batch of step s covers positions [s B, (s + 1) B) of the concatenated epochs.
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
        b = self.conf.batch_size
        g = torch.Generator().manual_seed(derive_seed(self.conf.seed, 0, step))
        t = self.sample_t(b, g)
        x0 = torch.randn((b, *self.shape), generator=g)
        drop = torch.rand(b, generator=g) < self.conf.label_dropout
        return {"idx": self.indices(step), "t": t, "x0": x0, "drop": drop}


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
    """This rank's shard of the global batch of ``step``: x0, x1 (B / world, C, H, W), t, y
    (B / world,) with label dropout applied (dropped labels are ``null_class``)."""
    full = sampler.batch(step)
    b = sampler.conf.batch_size // world
    sl = slice(rank * b, (rank + 1) * b)
    idx = full["idx"][sl]
    x1 = torch.from_numpy(np.ascontiguousarray(latents[idx.numpy()], dtype=np.float32))
    y = labels[idx].masked_fill(full["drop"][sl], null_class)
    nb = device.type == "cuda"
    return (
        full["x0"][sl].to(device, non_blocking=nb),
        x1.to(device, non_blocking=nb),
        full["t"][sl].to(device, non_blocking=nb),
        y.to(device, non_blocking=nb),
    )
