"""Subnormal floats in a computation, found operation by operation.

A subnormal (denormal) float has a magnitude below the smallest normal number of its dtype
(``torch.finfo(dtype).tiny``: 2^-126 for float32). Many CPUs, Intel's among them, process
subnormal operands and results with microcode assists, 10-100x slower per operation, so a
computation that produces them in bulk (softmax weights of far-away points, products of
tiny weights with data) can run many times slower on one CPU than on another while giving
the same numbers. :class:`SubnormalScan` records, for every ATen operation run inside it:

- ``outputs``: subnormal entries in its floating outputs (counted exactly; views and
  uninitialised buffers from ``torch.empty`` are skipped);
- ``products``: matrix products (mm, addmm, bmm, baddbmm) whose operands' smallest nonzero
  magnitudes multiply to a subnormal, i.e. that *may* form subnormal partial products (a
  sufficient test for their absence: if min|a| * min|b| is normal, every product is).

Usage (tests/unit/test_oracle_subnormals.py, benchmarks/subnormal_scan.py)::

    with SubnormalScan() as scan:
        oracle_velocity(x, 0.4, data)
    assert scan.total() == 0, scan.summary()
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["SubnormalScan", "count_subnormal"]

_MATMULS = {
    torch.ops.aten.mm.default: (0, 1),
    torch.ops.aten.mm.out: (0, 1),
    torch.ops.aten.bmm.default: (0, 1),
    torch.ops.aten.addmm.default: (1, 2),
    torch.ops.aten.addmm.out: (1, 2),
    torch.ops.aten.addmm_.default: (1, 2),
    torch.ops.aten.baddbmm.default: (1, 2),
}


# factories whose outputs are uninitialised memory (any bit pattern until written)
_UNINITIALISED = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}


def count_subnormal(t: torch.Tensor) -> int:
    """Number of subnormal entries of a floating tensor (0 for other dtypes)."""
    if not t.is_floating_point() or t.numel() == 0:
        return 0
    a = t.detach().abs()
    return int(((a > 0) & (a < torch.finfo(t.dtype).tiny)).sum())


def _min_nonzero(t: torch.Tensor) -> float:
    a = t.detach().abs()
    a = a[a > 0]
    return float(a.min()) if a.numel() else float("inf")


def _may_form_subnormal_products(a: torch.Tensor, b: torch.Tensor) -> bool:
    if not (a.is_floating_point() and b.is_floating_point()):
        return False
    tiny = torch.finfo(torch.promote_types(a.dtype, b.dtype)).tiny
    return _min_nonzero(a) * _min_nonzero(b) < tiny


class SubnormalScan(TorchDispatchMode):
    """Dispatch mode that counts subnormals per ATen operation (module docstring).

    Attributes:
        outputs: Counter op name -> subnormal entries in that op's floating outputs.
        products: Counter op name -> calls whose operands may form subnormal products.
        ops: Counter op name -> calls seen (to show what was scanned).
    """

    def __init__(self) -> None:
        super().__init__()
        self.outputs: Counter[str] = Counter()
        self.products: Counter[str] = Counter()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        out = func(*args, **(kwargs or {}))
        name = str(func.overloadpacket.__name__)
        self.ops[name] += 1
        fresh = not func.is_view and name not in _UNINITIALISED  # views: counted at the source
        for t in tree_flatten(out)[0] if fresh else ():
            if isinstance(t, torch.Tensor):
                n = count_subnormal(t)
                if n:
                    self.outputs[name] += n
        operands = _MATMULS.get(func)
        if operands is not None and _may_form_subnormal_products(*(args[i] for i in operands)):
            self.products[name] += 1
        return out

    def total(self) -> int:
        """Subnormal outputs plus matrix products that may form subnormals."""
        return sum(self.outputs.values()) + sum(self.products.values())

    def summary(self) -> str:
        """One line: what was found, per op, or that nothing was."""
        if not self.total():
            return f"no subnormals in {sum(self.ops.values())} operations"
        parts = [f"{k}: {v} subnormal outputs" for k, v in self.outputs.most_common()]
        parts += [
            f"{k}: {v} calls with possible subnormal products"
            for k, v in self.products.most_common()
        ]
        return "; ".join(parts)
