"""The linear (rectified-flow) probability path, stated once for all of navref.

Time convention (Lipman et al. 2023, followed by the paper): t in [0, 1], **t = 0 is the
prior N(0, I) (noise), t = 1 is the data**. With x0 ~ N(0, I) and x1 ~ data,

    x_t           = (1 - t) x0 + t x1          (alpha_t = t, sigma_t = 1 - t)
    CFM target    u = d x_t / dt = x1 - x0
    x1_hat        = x_t + (1 - t) v(x_t, t)    (one Euler step from t to 1)

Every module that builds x_t, the CFM target or a one-step prediction calls these
functions (flow_matching's ``path/`` is the model). Shapes: ``x0``, ``x1``, ``x_t`` and
``v`` are (B, ...) tensors of one shape; ``t`` is a float, or a tensor that broadcasts
against them (e.g. (B, 1, 1, 1)).
"""

from __future__ import annotations

from torch import Tensor

TimeLike = float | Tensor


def x_t(x0: Tensor, x1: Tensor, t: TimeLike) -> Tensor:
    """x_t = (1 - t) x0 + t x1: the point of the linear path at time t."""
    return (1 - t) * x0 + t * x1


def cfm_target(x0: Tensor, x1: Tensor) -> Tensor:
    """The conditional flow-matching target u = x1 - x0 (the path's velocity; Lipman et al.
    2023, Eq. 23 with sigma_min = 0)."""
    return x1 - x0


def x1_hat(x_t: Tensor, t: TimeLike, v: Tensor) -> Tensor:
    """One-step prediction of the data, x1_hat = x_t + (1 - t) v(x_t, t) (paper Fig. 4, 8)."""
    return x_t + (1 - t) * v


__all__ = ["cfm_target", "x1_hat", "x_t"]
