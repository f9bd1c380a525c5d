"""Euler sampling of a flow model with composable velocity providers.

Time convention and path: :mod:`navref.path` (t = 0 noise, t = 1 data). Sampling integrates

    dx/dt = v(x, t, y)   from t = grid[0] (usually 0) to t = grid[-1] (usually 1)

with the explicit Euler rule x_{k+1} = x_k + (t_{k+1} - t_k) v(x_k, t_k, y). The velocity is
evaluated at grid[0], ..., grid[-2] only -- never at the last grid point, so never at t = 1,
where the oracle velocity's 1 / (1 - t) factor is singular.

Velocity providers
------------------
A provider is any callable ``provider(x, t, y) -> v`` where ``x`` is the (B, ...) state,
``t`` is a **python float** (the whole batch shares one grid time: every sampler in the paper
uses a shared time grid, and a scalar keeps per-step decisions such as the CFG interval or a
provider switch unambiguous) and ``y`` the (B,) long class labels (or ``None``). It returns a
tensor shaped like ``x``. Providers here:

- :class:`ModelVelocity` -- a trained network, conditional / unconditional / CFG with an
  optional guidance interval [a, b];
- :class:`OracleVelocity` -- the closed-form oracle velocity of a finite training set
  (Theorem 2.1), class-conditional by default, with access to the posterior statistics;
- :class:`Piecewise` / :func:`switch_at` -- provider A for t < tau, B for t >= tau.

Time grids
----------
:func:`uniform_grid`, :func:`stagewise_grid` (Tab. 1), :func:`shifted_grid` (Tab. 2) and
:func:`share_below` (the share of velocity evaluations below a split time). Grids are 1-D
float64 tensors, strictly increasing, inside [0, 1].

Noise
-----
:func:`make_noise` draws sample ``i`` from its own generator seeded by ``(seed, i)``, so a
sample is reproducible from (seed, index) whatever the batch size or batch split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch
from torch import Tensor

from navref.path import x1_hat

if TYPE_CHECKING:
    from navref.oracle import OracleResult

# Tolerance for comparing grid times with interval bounds / switch times. Grid values come
# from float64 arithmetic (e.g. 10 / 50 vs 0.2), so exact comparisons would be fragile.
TIME_TOL = 1e-9


class VelocityProvider(Protocol):
    """``provider(x, t, y) -> v``: x (B, ...), t python float in [0, 1), y (B,) long or None."""

    def __call__(self, x: Tensor, t: float, y: Tensor | None) -> Tensor: ...


# ----------------------------------------------------------------------------- providers


def _time_vector(t: float, x: Tensor) -> Tensor:
    """Broadcast the scalar time to a (B,) float32 tensor on x's device (float32 even when x
    is half precision, so the timestep embedding keeps its resolution)."""
    return torch.full((x.shape[0],), float(t), device=x.device, dtype=torch.float32)


def _check_time(t: Any) -> float:
    if isinstance(t, Tensor):
        if t.numel() != 1:
            raise ValueError(
                "velocity providers take one shared python float t per call (got a tensor with "
                f"{t.numel()} elements); pass float(t) -- per-sample times are not supported"
            )
        t = t.item()
    return float(t)


def model_null_class(model: Callable, num_classes: int) -> int:
    """The null-class index the model was trained with (its ``null_class``), checked.

    A model without a ``null_class`` attribute (a plain callable) uses ``num_classes``.
    Raises ValueError when the caller's ``num_classes`` disagrees with the model's.
    """
    inner = getattr(model, "_orig_mod", model)  # torch.compile wraps the module
    null = getattr(inner, "null_class", None)
    if null is None:
        return num_classes
    if int(null) != num_classes:
        raise ValueError(
            f"ModelVelocity: num_classes={num_classes} but the model's null class is {int(null)} "
            f"(it was trained with {int(null)} classes); pass num_classes={int(null)}"
        )
    return int(null)


class ModelVelocity:
    """Velocity of a trained network ``model(x (B,C,H,W), t (B,) float, y (B,) long) -> v``.

    Modes:

    - ``"cond"``: v = v_theta(x, t, y).
    - ``"uncond"``: v = v_theta(x, t, null) with the null class index ``num_classes``.
    - ``"cfg"``: classifier-free guidance v = v_u + w (v_c - v_u) for t in the closed interval
      ``cfg_interval = (a, b)`` (both ends inclusive, up to ``TIME_TOL``), and the conditional
      velocity v_c alone outside it (the paper's Tab. 3 setting). Where guidance applies, the
      conditional and unconditional passes run as ONE forward on the concatenated 2B batch;
      outside the interval there is no unconditional pass at all. The default interval
      (0, 1) guides every step.

    ``autocast`` (e.g. ``torch.bfloat16``) runs the forward under ``torch.autocast`` on x's
    device type; the returned velocity is always cast back to x's dtype. The model receives
    t as a float32 (B,) tensor in [0, 1].
    """

    def __init__(
        self,
        model: Callable[[Tensor, Tensor, Tensor], Tensor],
        num_classes: int,
        mode: Literal["cond", "uncond", "cfg"] = "cond",
        cfg_scale: float = 1.0,
        cfg_interval: tuple[float, float] = (0.0, 1.0),
        autocast: torch.dtype | None = None,
    ) -> None:
        if mode not in ("cond", "uncond", "cfg"):
            raise ValueError(f"ModelVelocity: mode must be 'cond', 'uncond' or 'cfg', got {mode!r}")
        if num_classes < 1:
            raise ValueError(f"ModelVelocity: num_classes must be >= 1, got {num_classes}")
        a, b = (float(v) for v in cfg_interval)
        if not (0.0 <= a <= b <= 1.0):
            raise ValueError(
                f"ModelVelocity: cfg_interval must satisfy 0 <= a <= b <= 1, got {cfg_interval}"
            )
        self.model = model
        self.num_classes = int(num_classes)
        self.null_class = model_null_class(model, int(num_classes))
        conf = getattr(getattr(model, "_orig_mod", model), "conf", None)
        if mode != "cond" and not getattr(conf, "null_class", True):
            raise ValueError(
                f"ModelVelocity: mode {mode!r} needs the unconditional velocity, but the model "
                "has no null class (a release trained without label dropout, loaded with "
                "arch_overrides null_class: false): classifier-free guidance is impossible with "
                "it; sample it with mode 'cond' (no CFG) or use a release with a null class"
            )
        self.mode = mode
        self.cfg_scale = float(cfg_scale)
        self.cfg_interval = (a, b)
        self.autocast = autocast

    def guided_at(self, t: float) -> bool:
        """Whether guidance (an unconditional pass) is applied at time t."""
        a, b = self.cfg_interval
        return self.mode == "cfg" and (a - TIME_TOL) <= t <= (b + TIME_TOL)

    def _forward(self, x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        if self.autocast is not None:
            with torch.autocast(device_type=x.device.type, dtype=self.autocast):
                return self.model(x, t, y)
        return self.model(x, t, y)

    def _labels(self, y: Tensor | None, x: Tensor) -> Tensor:
        if y is None:
            if self.mode != "uncond":
                raise ValueError(
                    f"ModelVelocity(mode={self.mode!r}) needs class labels y; pass labels to the "
                    "sampler or use mode='uncond'"
                )
            return torch.full((x.shape[0],), self.null_class, device=x.device, dtype=torch.long)
        return y.to(device=x.device, dtype=torch.long)

    def __call__(self, x: Tensor, t: float, y: Tensor | None) -> Tensor:
        t = _check_time(t)
        y = self._labels(y, x)
        tv = _time_vector(t, x)
        if self.mode == "uncond":
            v = self._forward(x, tv, torch.full_like(y, self.null_class))
        elif self.mode == "cond" or not self.guided_at(t):
            v = self._forward(x, tv, y)
        else:
            b = x.shape[0]
            v2 = self._forward(
                torch.cat([x, x]),
                torch.cat([tv, tv]),
                torch.cat([y, torch.full_like(y, self.null_class)]),
            )
            v_c, v_u = v2[:b], v2[b:]
            v = v_u + self.cfg_scale * (v_c - v_u)
        return v.to(x.dtype)


class OracleVelocity:
    """The oracle velocity of a finite training set (Theorem 2.1, via :mod:`navref.oracle`).

    v*(x, t) = (E[x1 | x_t = x] - x) / (1 - t), with posterior weights
    gamma_i = softmax_i(-||x - t x1_i||^2 / (2 (1 - t)^2)). With ``conditional=True`` (the
    default) the softmax runs over the training samples of the query's class only (needs
    ``data_labels`` here and labels ``y`` at call time). ``data`` is (N, ...) flattening to
    (N, D) (tensor on any device, numpy array or memmap, streamed in ``chunk_size`` rows);
    the state x is (B, ...) with prod(...) = D. ``compute_dtype`` (float32 / float64, default
    float64 only for float64 x) is passed to the oracle; float64 resolves near-ties close to
    t = 1.

    :meth:`stats` returns the posterior statistics at (x, t) (top-1 weight, top-1 index into
    ``data``, ESS, entropy), e.g. to find the training sample the oracle pointed at when it
    handed over to a model; with ``count_modes=True`` identical training items count as one
    mode there.
    """

    def __init__(
        self,
        data: Any,
        data_labels: Any = None,
        conditional: bool = True,
        chunk_size: int | None = None,
        compute_dtype: torch.dtype | None = None,
    ) -> None:
        if conditional and data_labels is None:
            raise ValueError(
                "OracleVelocity(conditional=True) needs data_labels (the class label of each "
                "training sample); pass them or set conditional=False"
            )
        self.data = data
        self.data_labels = data_labels if conditional else None
        self.conditional = bool(conditional)
        self.chunk_size = chunk_size
        self.compute_dtype = compute_dtype
        self._modes: np.ndarray | None = None  # row counts of the modes (None: no copies)
        self._modes_known = False

    def _labels(self, y: Tensor | None) -> Tensor | None:
        if not self.conditional:
            return None
        if y is None:
            raise ValueError(
                "OracleVelocity(conditional=True) needs class labels y at call time; pass labels "
                "to the sampler or build it with conditional=False"
            )
        return y

    def __call__(self, x: Tensor, t: float, y: Tensor | None) -> Tensor:
        from navref.oracle import oracle_velocity

        t = _check_time(t)
        v = oracle_velocity(
            x,
            t,
            self.data,
            data_labels=self.data_labels,
            labels=self._labels(y),
            chunk_size=self.chunk_size,
            compute_dtype=self.compute_dtype,
        )
        return v.to(device=x.device, dtype=x.dtype)

    def stats(
        self, x: Tensor, t: float, y: Tensor | None, *, count_modes: bool = False
    ) -> OracleResult:
        """Posterior at (x, t): a :class:`navref.oracle.OracleResult` with per-query
        ``top1_weight``, ``top1_index`` (row of ``data``), ``entropy``, ``ess``, ``mean``
        (E[x1 | x_t = x]) and ``velocity``, from :func:`navref.oracle.oracle_posterior`.

        ``count_modes``: identical training items (byte-identical rows of ``data``, with
        their label when conditional; :func:`navref.metrics.memorization.distinct_rows`)
        count as one mode: an item's first row gets its multiplicity and its copies 0 as
        ``row_counts`` (nothing copied or gathered), so ``velocity`` and ``mean`` stay those of
        ``data`` as stored (float rounding aside), ``top1_weight`` is the summed weight of
        the copies of the top item, ESS and entropy are over items, and ``top1_index`` is
        the item's first row of ``data``. Without copies, the same as without the flag."""
        from navref.oracle import oracle_posterior

        t = _check_time(t)
        counts = self._mode_counts() if count_modes else None
        return oracle_posterior(
            x,
            t,
            self.data,
            data_labels=self.data_labels,
            labels=self._labels(y),
            chunk_size=self.chunk_size,
            compute_dtype=self.compute_dtype,
            row_counts=counts,
        )

    def _mode_counts(self) -> np.ndarray | None:
        """:func:`navref.metrics.memorization.mode_counts` of the data, computed once."""
        if not self._modes_known:
            from navref.metrics.memorization import mode_counts

            self._modes, _ = mode_counts(self.data, self.data_labels)
            self._modes_known = True
        return self._modes


class Piecewise:
    """Switch providers at given times: ``Piecewise([(0.0, A), (tau_1, B), (tau_2, C)])``.

    Each pair is ``(start_time, provider)``; the start times must begin at 0 and increase
    strictly. The provider of the last segment whose start time is <= t (up to ``TIME_TOL``)
    handles time t, i.e. A for t < tau_1, B for tau_1 <= t < tau_2, C for t >= tau_2.
    """

    def __init__(self, segments: Sequence[tuple[float, VelocityProvider]]) -> None:
        if not segments:
            raise ValueError("Piecewise needs at least one (start_time, provider) segment")
        starts = [float(s) for s, _ in segments]
        if abs(starts[0]) > TIME_TOL:
            raise ValueError(f"Piecewise: the first segment must start at t = 0, got {starts[0]}")
        if any(b <= a for a, b in zip(starts, starts[1:], strict=False)) or starts[-1] > 1.0:
            raise ValueError(
                f"Piecewise: start times must increase strictly in [0, 1], got {starts}"
            )
        self.starts = starts
        self.providers = [p for _, p in segments]

    def index_at(self, t: float) -> int:
        """Index of the segment that handles time t."""
        idx = 0
        for i, s in enumerate(self.starts):
            if t >= s - TIME_TOL:
                idx = i
        return idx

    def provider_at(self, t: float) -> VelocityProvider:
        """The provider that handles time t."""
        return self.providers[self.index_at(t)]

    def __call__(self, x: Tensor, t: float, y: Tensor | None) -> Tensor:
        t = _check_time(t)
        return self.provider_at(t)(x, t, y)


def switch_at(tau: float, first: VelocityProvider, second: VelocityProvider) -> VelocityProvider:
    """``first`` for t < tau, ``second`` for t >= tau (tau = 0: second only; tau = 1: first
    only, since the velocity is never evaluated at t = 1)."""
    tau = float(tau)
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"switch_at: tau must be in [0, 1], got {tau}")
    if tau <= TIME_TOL:
        return second
    if tau >= 1.0 - TIME_TOL:
        return first
    return Piecewise([(0.0, first), (tau, second)])


# ----------------------------------------------------------------------------- time grids


def _validate_grid(grid: Any) -> Tensor:
    g = torch.as_tensor(grid, dtype=torch.float64).flatten().cpu()
    if g.numel() < 2:
        raise ValueError(f"a time grid needs at least 2 points, got {g.numel()}")
    if not bool(torch.all(g[1:] > g[:-1])):
        raise ValueError("a time grid must increase strictly")
    if g[0] < -TIME_TOL or g[-1] > 1.0 + TIME_TOL:
        raise ValueError(f"a time grid must lie in [0, 1], got [{g[0].item()}, {g[-1].item()}]")
    return g


def uniform_grid(n: int) -> Tensor:
    """n uniform Euler steps on [0, 1]: t_k = k / n, k = 0..n (float64, n + 1 points)."""
    if n < 1:
        raise ValueError(f"uniform_grid: n must be >= 1, got {n}")
    return torch.arange(n + 1, dtype=torch.float64) / n


def interval_grid(t0: float, t1: float, n: int) -> Tensor:
    """n uniform steps on [t0, t1] (float64, n + 1 points, both ends exact)."""
    if n < 1 or not 0.0 <= t0 < t1 <= 1.0:
        raise ValueError(f"interval_grid: need n >= 1 and 0 <= t0 < t1 <= 1, got {t0}, {t1}, {n}")
    k = torch.arange(n + 1, dtype=torch.float64)
    g = t0 + (t1 - t0) * k / n
    g[0], g[-1] = t0, t1
    return g


def stagewise_grid(tau: float, n1: int, n2: int) -> Tensor:
    """n1 uniform steps on [0, tau] followed by n2 uniform steps on [tau, 1] (Tab. 1 uses
    25 + 25). tau is exactly a grid point (index n1)."""
    if not 0.0 < tau < 1.0:
        raise ValueError(f"stagewise_grid: tau must be in (0, 1), got {tau}")
    return torch.cat([interval_grid(0.0, tau, n1), interval_grid(tau, 1.0, n2)[1:]])


def shifted_grid(n: int, s: float) -> Tensor:
    """Timestep-shifted grid of n steps (Tab. 2): t_m = s t_n / (1 + (s - 1) t_n) over the
    uniform t_n = k / n. s = 1 is uniform; s < 1 puts more steps near the prior (t = 0),
    s > 1 near the data."""
    if s <= 0:
        raise ValueError(f"shifted_grid: the shift s must be > 0, got {s}")
    tn = uniform_grid(n)
    return s * tn / (1.0 + (s - 1.0) * tn)


def share_below(grid: Any, t_split: float, inclusive: bool = False) -> float:
    """Share of the Euler steps (velocity evaluations at grid[:-1]) with t < t_split
    (t <= t_split with ``inclusive=True``, up to ``TIME_TOL``).

    The paper's Tab. 2 percentages (6/12/22/28/34/46/72 % of 50 steps "with t < 0.2") are
    reproduced exactly by the inclusive count over the shifted times t_m: the uniform grid
    has a step exactly at t = 0.2 (11 of 50 = 22 %; strictly below gives 20 %).
    """
    g = _validate_grid(grid)[:-1]
    mask = g <= t_split + TIME_TOL if inclusive else g < t_split - TIME_TOL
    return float(mask.double().mean())


def grid_with_point(grid: Any, t: float) -> Tensor:
    """``grid`` with the time t inserted (unchanged when t is already a grid point up to
    ``TIME_TOL``; a grid point within the tolerance is snapped to t exactly)."""
    g = _validate_grid(grid).clone()
    t = float(t)
    close = (g - t).abs() <= TIME_TOL
    if bool(close.any()):
        g[close] = t
        return g
    return torch.sort(torch.cat([g, torch.tensor([t], dtype=torch.float64)])).values


# ----------------------------------------------------------------------------- noise


def make_noise(
    shape: Sequence[int],
    seed: int,
    start_index: int = 0,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Gaussian prior samples x0 ~ N(0, I) of ``shape = (B, ...)``.

    Sample b is drawn from its own generator seeded by ``(seed, start_index + b)`` (numpy
    PCG64 over a SeedSequence), so each sample depends only on (seed, global index): batch
    size, batch split and device do not change it.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1 or shape[0] < 0:
        raise ValueError(f"make_noise: shape must be (B, ...), got {shape}")
    if seed < 0 or start_index < 0:
        raise ValueError(
            f"make_noise: seed and start_index must be >= 0, got {seed}, {start_index}"
        )
    out = np.empty(shape, dtype=np.float32)
    for b in range(shape[0]):
        rng = np.random.default_rng([int(seed), int(start_index) + b])
        out[b] = rng.standard_normal(shape[1:], dtype=np.float32)
    return torch.from_numpy(out).to(device=device, dtype=dtype)


def balanced_labels(n: int, num_classes: int) -> Tensor:
    """Class labels (n,) long of a class-balanced sample set: sample i has label i mod K."""
    return torch.arange(n) % num_classes


# ----------------------------------------------------------------------------- sampler


@dataclass
class Trajectory:
    """Recorded states of one sampling run.

    ``times[j]`` is a grid time; ``states[j]`` the state x_t there; ``predictions[j]`` the
    one-step prediction x1_hat = x_t + (1 - t) v(x_t, t) (at the final grid time, where no
    velocity is evaluated, the state itself).
    """

    final: Tensor
    times: list[float] = field(default_factory=list)
    states: list[Tensor] = field(default_factory=list)
    predictions: list[Tensor] = field(default_factory=list)

    def prediction_at(self, t: float) -> Tensor:
        """x1_hat at the recorded time closest to t."""
        j = int(np.argmin([abs(s - t) for s in self.times]))
        return self.predictions[j]

    def state_at(self, t: float) -> Tensor:
        """x_t at the recorded time closest to t."""
        j = int(np.argmin([abs(s - t) for s in self.times]))
        return self.states[j]


def _record_indices(grid: Tensor, record_at: Any) -> set[int]:
    if record_at is None:
        return set(range(grid.numel()))
    idx = set()
    for t in torch.as_tensor(record_at, dtype=torch.float64).flatten().tolist():
        d = (grid - t).abs()
        j = int(torch.argmin(d))
        if d[j] > 1e-6:
            raise ValueError(
                f"sample: record time {t} is not a grid point (nearest {grid[j].item():.6g}); "
                "record only at grid times, or insert them with grid_with_point"
            )
        idx.add(j)
    return idx


@torch.inference_mode()
def sample(
    provider: VelocityProvider,
    grid: Any,
    noise: Tensor,
    labels: Tensor | None,
    *,
    record_at: Any = None,
    return_trajectory: bool = False,
    record_device: torch.device | str | None = None,
    progress: bool = False,
) -> Tensor | Trajectory:
    """Euler-integrate ``provider`` over ``grid`` starting from ``noise``.

    x_{k+1} = x_k + (t_{k+1} - t_k) v(x_k, t_k, y) for k = 0 .. len(grid) - 2; the velocity is
    never evaluated at grid[-1] (t = 1). ``grid`` is any strictly increasing time grid in
    [0, 1] (normally from 0 to 1; a grid starting at tau > 0 resumes from a state x_tau
    passed as ``noise``). Returns the final state, or a :class:`Trajectory` when
    ``return_trajectory`` is true, recording states and one-step predictions
    x1_hat = x_t + (1 - t) v(x_t, t) at the grid times ``record_at`` (all grid times when
    None; each must be a grid point). Recorded tensors are detached clones moved to
    ``record_device`` (default: where they are).
    """
    g = _validate_grid(grid)
    if labels is not None:
        labels = torch.as_tensor(labels, device=noise.device, dtype=torch.long)
        if labels.shape != (noise.shape[0],):
            raise ValueError(
                f"sample: labels must have shape ({noise.shape[0]},) to match the noise batch, "
                f"got {tuple(labels.shape)}"
            )
    rec = _record_indices(g, record_at) if return_trajectory else set()
    times = g.tolist()
    traj = Trajectory(final=noise)

    def keep(t: float, x: Tensor, pred: Tensor) -> None:
        traj.times.append(t)
        traj.states.append(x.detach().clone().to(record_device or x.device))
        traj.predictions.append(pred.detach().clone().to(record_device or pred.device))

    steps = range(len(times) - 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="euler", leave=False)
    x = noise
    for k in steps:
        t, t_next = times[k], times[k + 1]
        v = provider(x, t, labels)
        if v.shape != x.shape:
            raise ValueError(
                f"sample: the velocity provider returned shape {tuple(v.shape)} for a state of "
                f"shape {tuple(x.shape)}"
            )
        if k in rec:
            keep(t, x, x1_hat(x, t, v))
        x = torch.add(x, v, alpha=t_next - t)
    if len(times) - 1 in rec:
        keep(times[-1], x, x)
    if not return_trajectory:
        return x
    traj.final = x
    return traj
