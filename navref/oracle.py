"""Exact oracle (marginal) velocity of a finite data set, streamed over the data in chunks.

Time convention: t in [0, 1), t = 0 is the Gaussian prior N(0, I), t = 1 is the data, and
x_t = (1 - t) x0 + t x1 (linear / rectified-flow path, Lipman et al.). For data
{x1_i}, i = 1..N (Theorem 2.1 of arXiv:2512.02826):

    gamma_i(x, t) = softmax_i( -||x - t x1_i||^2 / (2 (1 - t)^2) )
    E[x1 | x_t = x] = sum_i gamma_i x1_i                     (posterior mean)
    v*(x, t)        = (E[x1 | x_t = x] - x) / (1 - t)         (oracle velocity)

Class-conditional: the softmax runs over the samples of the query's class only.

Row multiplicities (``row_counts``, optional): gamma_i ∝ c_i exp(l_i), a per-row bias
log2(c_i) on the base-2 logits. Deduplicated rows with their counts give the posterior mean
and velocity of the data as stored (duplicates included), up to float rounding, while the
statistics (top-1 weight, entropy, effective sample size) count each distinct row as one
mode.

How it is computed. Dropping the per-query constant -||x||^2 / (2 (1 - t)^2), which cancels
in the softmax, the logits are

    l_i = a * <x, x1_i> - b * ||x1_i||^2,    a = t / (1 - t)^2,  b = t^2 / (2 (1 - t)^2),

i.e. ONE matrix product per chunk of data (attention with queries a*x, keys x1_i and values
x1_i); a second one accumulates the weighted sum of the values. The logits are kept in base 2
(scaled by log2 e, so weights are 2^(l2 - m2)) because exp2 is several times faster than exp
on CPU; weights below 2^-60 of the largest are exactly zero (see "Subnormals" below); below,
exp stands for that. The data are visited once, chunk by chunk, with an online (flash-attention
style) softmax: a running per-query maximum m, and running sums rescaled by exp(m_old - m_new)
whenever the maximum grows:

    S0 = sum_i exp(l_i - m)                 (denominator)
    S  = sum_i exp(l_i - m) x1_i            (numerator, shape (B, D))
    S1 = sum_i exp(l_i - m) (l_i - m)       (for the entropy; only if statistics are asked)
    S2 = sum_i exp(l_i - m)^2               (for the effective sample size; idem)

from which mean = S / S0, top-1 weight = 1 / S0 (the maximal logit has weight exp(0) / S0),
entropy = log S0 - S1 / S0 (nats) and ess = S0^2 / S2 = 1 / sum_i gamma_i^2. Memory is
O(B * chunk + chunk * D + B * D) for any N; data given as a numpy array or ``np.memmap`` is
read from it one chunk at a time and never materialised as one tensor.

When only the velocity or the posterior mean is asked and the (B, N) logits fit the
working set of one chunk (about 1 MB on CPU), the online bookkeeping is pure overhead: the
engine then takes one matrix product, PyTorch's fused softmax and a second matrix product
(fewer passes over the logits, no merge), with the same expansion and the same precision.

Class-conditional queries are grouped by class and each group streams only the rows of its
class (a contiguous slice when the class's rows are contiguous, a gather otherwise), so the
cost is sum over classes of B_c * N_c * D rather than B * N * D.

Subnormals. Weights of far-away rows underflow: 2^(l2 - m2) for l2 - m2 < -126 is a
subnormal float32, and so is the product of a weight near 2^-126 with a data value below 1.
Many CPUs (Intel's among them) process subnormal operands and results with microcode
assists, 10-100x slower per operation: on an Intel Xeon a pass over such weights ran 17-72x
slower than its two matrix products. The engine therefore sets every weight whose log2-ratio
to the running maximum lies below -``WEIGHT_LOG2_FLOOR`` = -60 to exactly zero (and the
rescale factor of the running sums likewise when the maximum jumps by more than that). The
smallest weight kept, 2^-60, has a normal square (2^-120, for the effective sample size) and
normal products with data values down to 2^-66, so no operation of a pass meets a subnormal
on realistic data (``tests/unit/test_oracle_subnormals.py`` checks every operation). The
mass dropped is below N * 2^-60 of the top weight, under float32 rounding (2^-24) for any
N < 2^36: no result changes beyond float32 rounding. The CPU's flush-to-zero mode would do
the same for speed, but it is per-thread global state that would also change every other
computation in the process (training included), so the engine does not rely on it.

Precision. Accumulation is float32 (float64 when x is float64, or with
``compute_dtype=torch.float64``); data may be stored in float16 / bfloat16 and is converted
per chunk. The expansion makes the absolute error of a logit about
2^-24 * a * |<x, x1_i>| ~ 6e-8 * t * |x| |x1| / (1 - t)^2, so for t close to 1 (e.g.
D = 4096, t > 0.99) near-ties between samples are resolved only to O(1) in the logit. Where
that matters, pass float64 x (the computation then runs in float64); away from near-ties
the posterior is one-hot there and the result is accurate either way (see tests).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "WEIGHT_LOG2_FLOOR",
    "OracleResult",
    "default_chunk_size",
    "single_chunk_fits",
    "oracle_posterior",
    "oracle_velocity",
    "posterior_mean",
]

ArrayLike = Tensor | np.ndarray

# Working-set targets of the default chunk size (elements): the logits block (B, chunk) and
# the data block (chunk, D). CPU values chosen with `benchmarks/oracle_bench.py --sweep`
# (a logits block beyond L2 cache costs up to 1.4x at D = 64); CUDA values are untested.
_CPU_LOGIT_ELEMS = 1 << 18
_CPU_DATA_ELEMS = 1 << 21
_CUDA_LOGIT_ELEMS = 1 << 24
_CUDA_DATA_ELEMS = 1 << 25
# weights 2^(l2 - m2) with l2 - m2 below -WEIGHT_LOG2_FLOOR are exactly zero ("Subnormals")
WEIGHT_LOG2_FLOOR = 60.0
_WEIGHT_FLOOR = 2.0**-WEIGHT_LOG2_FLOOR
_LOG2E = 1.0 / math.log(2.0)


@dataclass(frozen=True)
class OracleResult:
    """Posterior statistics of the oracle at (x, t), one entry per query.

    velocity: v*(x, t) = (E[x1 | x_t = x] - x) / (1 - t), shape and dtype of x.
    mean: E[x1 | x_t = x] = sum_i gamma_i x1_i, shape and dtype of x.
    top1_weight: max_i gamma_i, shape (B,), compute dtype (float32 or float64).
    top1_index: argmax_i gamma_i as a row index into ``data`` (int64, (B,)); the first
        maximal row on exact ties.
    entropy: -sum_i gamma_i log gamma_i in nats, (B,); log N_class at t = 0.
    ess: 1 / sum_i gamma_i^2, the effective number of samples, (B,); in [1, N_class].

    With ``row_counts`` the sums run over the given rows, weights gamma_i ∝ c_i exp(l_i):
    on deduplicated rows, each distinct row is one mode (entropy at t = 0 is then that of
    the counts, not log N_class).
    """

    velocity: Tensor
    mean: Tensor
    top1_weight: Tensor
    top1_index: Tensor
    entropy: Tensor
    ess: Tensor


def _logit_elems(device: torch.device | str) -> int:
    """Working-set target (elements) of one (B, chunk) logits block on ``device``."""
    return _CUDA_LOGIT_ELEMS if torch.device(device).type == "cuda" else _CPU_LOGIT_ELEMS


def default_chunk_size(dim: int, num_queries: int, device: torch.device | str = "cpu") -> int:
    """Rows of data per chunk: the logits block (B, chunk) and the data block (chunk, D)
    each stay within a fixed working set: on CPU the logits block is 1 MB (float32) so that
    the elementwise passes over it stay in L2 cache, and the data block at most 8 MB; on
    CUDA both are larger (64 MB / 128 MB) to amortise kernel launches. At least 256 rows."""
    logit_elems = _logit_elems(device)
    data_elems = _CUDA_DATA_ELEMS if torch.device(device).type == "cuda" else _CPU_DATA_ELEMS
    rows = min(logit_elems // max(num_queries, 1), data_elems // max(dim, 1))
    return int(max(256, rows))


# --------------------------------------------------------------------------- validation


def _as_queries(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise ValueError(
            f"oracle: x must be a torch.Tensor of shape (B, ...), got {type(x).__name__}; "
            "wrap it with torch.as_tensor"
        )
    if x.ndim < 1 or not x.is_floating_point():
        raise ValueError(
            f"oracle: x must be a floating tensor of shape (B, ...), got shape "
            f"{tuple(x.shape)} dtype {x.dtype}"
        )
    x2 = x.reshape(x.shape[0], math.prod(x.shape[1:]))
    # a sum is one fast reduction and is finite whenever every entry is (barring overflow,
    # which the exact elementwise check then tells apart)
    if x2.numel() and not math.isfinite(float(x2.sum())) and not bool(torch.isfinite(x2).all()):
        raise ValueError("oracle: x contains NaN or Inf; check the queries")
    return x2


def _as_data(data: ArrayLike, dim: int) -> ArrayLike:
    if isinstance(data, Tensor):
        ok_dtype = data.is_floating_point()
    elif isinstance(data, np.ndarray):
        ok_dtype = data.dtype.kind == "f"
    else:
        raise ValueError(
            f"oracle: data must be a torch.Tensor or a numpy array / np.memmap of shape "
            f"(N, D), got {type(data).__name__}"
        )
    if not ok_dtype:
        raise ValueError(
            f"oracle: data must hold floating point numbers (float16/32/64), got dtype "
            f"{data.dtype}; convert it first"
        )
    if data.ndim < 1 or data.shape[0] < 1:
        raise ValueError(
            f"oracle: data must have shape (N, ...) with N >= 1, got {tuple(data.shape)}"
        )
    n = data.shape[0]
    data2 = data.reshape(n, -1)
    if data2.shape[1] != dim:
        raise ValueError(
            f"oracle: data rows have {data2.shape[1]} features (data shape "
            f"{tuple(data.shape)}) but the queries have {dim}; both are flattened to (., D) "
            "and D must agree"
        )
    return data2


def _as_times(t: float | ArrayLike, batch: int) -> np.ndarray:
    """t as a float64 numpy vector of length B, validated to lie in [0, 1)."""
    if isinstance(t, Tensor):
        arr = t.detach().to("cpu", torch.float64).numpy()
    else:
        arr = np.asarray(t, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(batch, float(arr))
    elif arr.size == batch and arr.shape[0] == batch:
        arr = arr.reshape(batch)
    else:
        raise ValueError(
            f"oracle: t must be a scalar or have shape (B,) = ({batch},), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0.0) or np.any(arr >= 1.0):
        bad = arr[~(np.isfinite(arr) & (arr >= 0.0) & (arr < 1.0))]
        raise ValueError(
            f"oracle: t must lie in [0, 1) (t = 1 is the data, where v* is undefined); got "
            f"{bad[:5].tolist()}; clip t to at most 1 - 1e-6"
        )
    return arr


def _as_labels(values: ArrayLike, length: int, what: str) -> np.ndarray:
    if isinstance(values, Tensor):
        arr = values.detach().cpu().numpy()
    else:
        arr = np.asarray(values)
    if arr.shape != (length,):
        raise ValueError(f"oracle: {what} must have shape ({length},), got {arr.shape}")
    if arr.dtype.kind not in "iub":
        raise ValueError(f"oracle: {what} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _as_counts(row_counts: ArrayLike, n: int) -> np.ndarray:
    """``row_counts`` as a float64 numpy vector of length N, validated positive and finite."""
    if isinstance(row_counts, Tensor):
        arr = row_counts.detach().cpu().numpy()
    else:
        arr = np.asarray(row_counts)
    if arr.shape != (n,):
        raise ValueError(
            f"oracle: row_counts must have shape (N,) = ({n},), one multiplicity per data "
            f"row, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "iuf":
        raise ValueError(
            f"oracle: row_counts must be integers or floats (the multiplicity of each data "
            f"row), got dtype {arr.dtype}"
        )
    cnt = arr.astype(np.float64)
    bad = ~(np.isfinite(cnt) & (cnt >= 0.0))
    if bad.any():
        where = np.nonzero(bad)[0]
        raise ValueError(
            f"oracle: row_counts must be non-negative and finite (the multiplicity of each "
            f"row; 0: the row has weight exactly 0); rows {where[:5].tolist()} have "
            f"{cnt[where[:5]].tolist()}"
        )
    _check_some_count(cnt, "the data")
    return cnt


def _check_some_count(counts: np.ndarray, what: str) -> None:
    """``ValueError`` when every row of ``what`` has count 0 (no posterior exists)."""
    if not (counts > 0).any():
        raise ValueError(
            f"oracle: every row of {what} has row_counts 0; the posterior needs a row of "
            "positive count"
        )


#: the bias of a row of count 0: far below any logit, so its weight is exactly 0 (below the
#: 2^-60 floor) while the logits stay finite (S1 multiplies weights by them)
_ZERO_COUNT_BIAS = -1e30


def _log_counts(counts: np.ndarray, base2: bool) -> np.ndarray:
    """log2(c) (``base2``) or ln(c) of the row counts, :data:`_ZERO_COUNT_BIAS` for c = 0."""
    with np.errstate(divide="ignore"):
        out = np.log2(counts) if base2 else np.log(counts)
    return np.where(counts > 0, out, _ZERO_COUNT_BIAS)


# ------------------------------------------------------------------------ chunk streaming


def _to_tensor_chunk(block: ArrayLike, device: torch.device, dtype: torch.dtype) -> Tensor:
    if isinstance(block, np.ndarray):
        if not block.dtype.isnative or not block.flags.c_contiguous:
            block = np.ascontiguousarray(block, dtype=block.dtype.newbyteorder("="))
        block = torch.from_numpy(block)  # zero-copy; read-only memmaps are never written
    return block.to(device=device, dtype=dtype, non_blocking=True)


def _fetch(
    data2: ArrayLike,
    rows: np.ndarray | None,
    rows_dev: Tensor | None,
    start: int,
    chunk: int,
    device: torch.device,
    dtype: torch.dtype,
) -> Tensor:
    """Rows [start, start + chunk) of the streamed sequence (all rows, or ``rows``)."""
    if rows is None:
        block = data2[start : start + chunk]
    elif rows_dev is not None:
        block = data2.index_select(0, rows_dev[start : start + chunk])
    else:
        block = data2[rows[start : start + chunk]]
    return _to_tensor_chunk(block, device, dtype)


def _iter_chunks(
    data2: ArrayLike,
    rows: np.ndarray | None,
    chunk: int,
    device: torch.device,
    dtype: torch.dtype,
) -> Iterator[tuple[Tensor, int, np.ndarray | None]]:
    """Yield (chunk on device in compute dtype, position of its first row in the streamed
    sequence, global row indices of the chunk or None when they are start + arange)."""
    rows_dev = None
    if rows is not None and isinstance(data2, Tensor):
        rows_dev = torch.from_numpy(rows).to(data2.device)
    total = data2.shape[0] if rows is None else rows.shape[0]
    with warnings.catch_warnings():
        # torch.from_numpy on a read-only memmap warns; the engine never writes to data.
        warnings.filterwarnings("ignore", message=".*not writable.*")
        for s in range(0, total, chunk):
            block = _fetch(data2, rows, rows_dev, s, chunk, device, dtype)
            yield block, s, None if rows is None else rows[s : s + chunk]


def _raise_nonfinite(sq: Tensor, start: int, rows: np.ndarray | None) -> None:
    local = int(torch.nonzero(~torch.isfinite(sq))[0, 0])
    row = int(rows[local]) if rows is not None else start + local
    raise ValueError(
        f"oracle: data row {row} contains NaN or Inf (or values so large that their squared "
        "norm overflows); clean the data set"
    )


# ------------------------------------------------------------------------- the core pass


def _syncs_are_costly(device: torch.device) -> bool:
    """Whether reading a device value back to Python stalls a queue (CUDA and the like);
    then per-chunk checks are deferred to the end of the pass."""
    return device.type != "cpu"


@dataclass
class _Pass:
    mean: Tensor  # (B, D)
    den: Tensor | None  # S0 (B,); None when no statistics were asked
    s1: Tensor | None  # S1 in base-2 logit units (see _stream)
    s2: Tensor | None
    top1_index: Tensor | None


def _stream(
    x2: Tensor,
    t: np.ndarray,
    data2: ArrayLike,
    rows: np.ndarray | None,
    chunk: int,
    cdtype: torch.dtype,
    want_stats: bool,
    counts: np.ndarray | None = None,
) -> _Pass:
    """One pass over the data rows (all, or ``rows``) for queries x2 (B, D) at times t (B,).

    Logits are kept in base 2 (l2 = l * log2(e), folded into the query scale and the bias)
    because exp2 is several times faster than exp on CPU; weights are 2^(l2 - m2).
    ``counts`` (float64, one per streamed row, i.e. aligned with ``rows`` when given) adds
    log2(c_i) to the per-row bias: weights c_i 2^(l2_i - m2), the maximum m2 taken over the
    biased logits.
    """
    device = x2.device
    batch = x2.shape[0]
    a64 = t / (1.0 - t) ** 2 * _LOG2E
    nb64 = -0.5 * t * a64  # -b log2(e), b = t^2 / (2 (1 - t)^2)
    xa = x2.to(cdtype) * torch.from_numpy(a64).to(device, cdtype)[:, None]
    scalar_t = bool(np.all(t == t[0]))
    nb0 = float(nb64[0])
    nb = None if scalar_t else torch.from_numpy(nb64).to(device, cdtype)
    on_cpu = not _syncs_are_costly(device)
    lc = None if counts is None else torch.from_numpy(_log_counts(counts, True)).to(device, cdtype)

    m = den = num = s1 = s2 = best = None
    lbuf = pbuf = None
    flags: list[tuple[Tensor, int]] = []  # CUDA: (all rows finite, chunk start)
    for xc, start, crow in _iter_chunks(data2, rows, chunk, device, cdtype):
        c = xc.shape[0]
        sq = torch.linalg.vector_norm(xc, dim=1).square_()  # NaN/Inf in a row propagate
        finite = torch.isfinite(sq).all()
        if on_cpu:  # fail fast; on CUDA defer the check to avoid a sync per chunk
            if not bool(finite):
                _raise_nonfinite(sq, start, crow)
        else:
            flags.append((finite, start))
        if lbuf is None:
            lbuf = torch.empty(batch * c, device=device, dtype=cdtype)
        logits = lbuf[: batch * c].view(batch, c)
        if lc is None:
            if scalar_t:
                torch.addmm(torch.mul(sq, nb0).unsqueeze(0), xa, xc.T, out=logits)
            else:
                torch.outer(nb, sq, out=logits)
                logits.addmm_(xa, xc.T)
        else:  # per-row bias -b ||x1_i||^2 + log2(c_i) (base 2)
            lcc = lc[start : start + c]
            if scalar_t:
                torch.addmm(torch.mul(sq, nb0).add_(lcc).unsqueeze(0), xa, xc.T, out=logits)
            else:
                torch.outer(nb, sq, out=logits)
                logits.add_(lcc).addmm_(xa, xc.T)
        cmax = logits.amax(dim=1)
        m_new = cmax if m is None else torch.maximum(m, cmax)
        if want_stats:
            # index of the chunk maximum, only for rows whose running maximum grows (argmax
            # is ~10x slower than amax on CPU; after a few chunks few rows still improve)
            gidx = None
            if m is None or not on_cpu:
                improved, cidx = None, logits.argmax(dim=1)
            else:
                improved = torch.nonzero(cmax > m).squeeze(1)
                cidx = logits.index_select(0, improved).argmax(dim=1) if improved.numel() else None
            if cidx is not None:
                gidx = cidx + start if crow is None else torch.from_numpy(crow).to(device)[cidx]
        # weights below 2^-60 of the largest are exactly zero: no subnormal weight, square
        # or product (module docstring, "Subnormals")
        logits.sub_(m_new[:, None])
        if want_stats:
            if pbuf is None:
                pbuf = torch.empty(batch * c, device=device, dtype=cdtype)
            # finite logits for S1 (0 * -inf would be NaN): clamp, then zero the weights
            logits.clamp_(min=-WEIGHT_LOG2_FLOOR - 1.0)
            p = torch.exp2(logits, out=pbuf[: batch * c].view(batch, c))
            torch.nn.functional.threshold_(p, _WEIGHT_FLOOR, 0.0)
            cs1 = torch.linalg.vecdot(p, logits)
            cs2 = torch.linalg.vecdot(p, p)
        else:
            p = torch.nn.functional.threshold_(logits, -WEIGHT_LOG2_FLOOR, -math.inf).exp2_()
        csum = p.sum(dim=1)
        if m is None:
            den = csum
            num = p @ xc
            if want_stats:
                s1, s2, best = cs1, cs2, gidx
        else:
            delta = m - m_new  # <= 0
            # a jump of the maximum by more than 60 (base 2) zeroes the old sums
            scale = torch.exp2(torch.nn.functional.threshold(delta, -WEIGHT_LOG2_FLOOR, -math.inf))
            if want_stats:
                s1 = (s1 + delta * den).mul_(scale).add_(cs1)
                s2 = s2.mul_(scale.square()).add_(cs2)
                if gidx is not None:
                    if improved is None:
                        best = torch.where(cmax > m, gidx, best)
                    else:
                        best[improved] = gidx
            den = den.mul_(scale).add_(csum)
            num.mul_(scale[:, None]).addmm_(p, xc)
        m = m_new
    for finite, start in flags:
        if not bool(finite):  # fetch the bad chunk again to name the row
            rows_dev = None
            if rows is not None and isinstance(data2, Tensor):
                rows_dev = torch.from_numpy(rows).to(data2.device)
            xc = _fetch(
                data2,
                rows,
                rows_dev,
                start,
                chunk,
                device,
                cdtype,
            )
            sq = torch.linalg.vector_norm(xc, dim=1)
            _raise_nonfinite(sq, start, None if rows is None else rows[start : start + chunk])
    assert num is not None and den is not None
    return _Pass(mean=num.div_(den[:, None]), den=den, s1=s1, s2=s2, top1_index=best)


def single_chunk_fits(num_queries: int, num_rows: int, device: torch.device | str) -> bool:
    """Whether the (B, N) logits of B queries against N in-memory rows fit the working set
    of one chunk, so that the velocity takes :func:`_single_chunk_mean` (one fused softmax)
    instead of the online pass (the benchmark reports which path a cell took)."""
    return num_queries * num_rows <= _logit_elems(device)


def _single_chunk_mean(
    x2: Tensor,
    t: np.ndarray,
    data2: ArrayLike,
    rows: np.ndarray | None,
    cdtype: torch.dtype,
    counts: np.ndarray | None = None,
) -> Tensor:
    """Posterior mean when all the (class's) data fit in one chunk and no statistics are
    asked: one matrix product for the natural-log logits l_i = <a x, x1_i> - b ||x1_i||^2
    (a = t / (1 - t)^2, b = t a / 2), PyTorch's fused softmax, one matrix product for
    sum_i gamma_i x1_i. Fewer passes over the (B, N) logits than the online softmax, which
    only pays when there are several chunks to merge. The rows (all, or ``rows``) are
    fetched as one block (a view for in-memory data). ``counts`` (aligned with the rows)
    adds log(c_i) to the per-row bias, as in :func:`_stream`."""
    device = x2.device
    total = data2.shape[0] if rows is None else rows.shape[0]
    chunks = _iter_chunks(data2, rows, total, device, cdtype)
    xc = next(chunks)[0]
    chunks.close()
    a64 = t / (1.0 - t) ** 2
    nb64 = -0.5 * t * a64
    scalar_t = bool(np.all(t == t[0]))
    if scalar_t:
        xa = x2.to(cdtype) * float(a64[0])
    else:
        xa = x2.to(cdtype) * torch.from_numpy(a64).to(device, cdtype)[:, None]
    sq = torch.linalg.vector_norm(xc, dim=1).square_()
    if not bool(torch.isfinite(sq).all()):  # one check per call, also on accelerators
        _raise_nonfinite(sq, 0, rows)
    if counts is None:
        if scalar_t:
            logits = torch.addmm(sq.mul_(float(nb64[0])).unsqueeze(0), xa, xc.T)
        else:
            logits = torch.outer(torch.from_numpy(nb64).to(device, cdtype), sq).addmm_(xa, xc.T)
    else:  # per-row bias -b ||x1_i||^2 + log(c_i) (natural log here)
        lc = torch.from_numpy(_log_counts(counts, False)).to(device, cdtype)
        if scalar_t:
            logits = torch.addmm(sq.mul_(float(nb64[0])).add_(lc).unsqueeze(0), xa, xc.T)
        else:
            logits = torch.outer(torch.from_numpy(nb64).to(device, cdtype), sq)
            logits.add_(lc).addmm_(xa, xc.T)
    # weights below 2^-60 of the largest exactly zero, as in _stream; softmax(l - max l) is
    # bitwise softmax(l) for the rest (its own max is then 0)
    logits.sub_(logits.amax(dim=1, keepdim=True))
    torch.nn.functional.threshold_(logits, -WEIGHT_LOG2_FLOOR / _LOG2E, -math.inf)
    # on CPU in place: the (B, N) block is the largest allocation of the call, and a second
    # one costs page faults comparable to the softmax itself (the CPU kernel reads each row
    # before writing it; the caching CUDA allocator makes the copy free there)
    if device.type == "cpu":
        return torch.ops.aten._softmax.out(logits, 1, False, out=logits) @ xc
    return torch.softmax(logits, dim=1) @ xc


def _check_options(
    x: Tensor,
    data_labels: ArrayLike | None,
    labels: ArrayLike | None,
    chunk_size: int | None,
    compute_dtype: torch.dtype | None,
) -> tuple[int | None, torch.dtype]:
    """The validated ``chunk_size`` and ``compute_dtype`` (float64 for float64 queries, else
    float32, unless given); ``ValueError`` for bad options or labels given on one side only."""
    if (data_labels is None) != (labels is None):
        raise ValueError(
            "oracle: pass both data_labels (N,) and labels (B,) for the class-conditional "
            "oracle, or neither for the unconditional one"
        )
    if compute_dtype is None:
        compute_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    if compute_dtype not in (torch.float32, torch.float64):
        raise ValueError(f"oracle: compute_dtype must be float32 or float64, got {compute_dtype}")
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
            raise ValueError(f"oracle: chunk_size must be a positive int, got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"oracle: chunk_size must be a positive int, got {chunk_size!r}")
        chunk_size = int(chunk_size)
    return chunk_size, compute_dtype


def _one_pass(
    q: Tensor,
    tq: np.ndarray,
    sub: ArrayLike,
    rows: np.ndarray | None,
    chunk_size: int | None,
    compute_dtype: torch.dtype,
    want_stats: bool,
    counts: np.ndarray | None = None,
) -> _Pass:
    """The posterior of queries ``q`` over ``sub`` (or its ``rows``): one fused softmax when
    the (B, N) logits fit the working set and the data block is one chunk, or a view of
    in-memory data (no copy to bound); else the online pass :func:`_stream`. ``counts``:
    the multiplicities of the streamed rows (aligned with ``rows`` when given), or None."""
    device = q.device
    nq = q.shape[0]
    chunk = chunk_size if chunk_size is not None else default_chunk_size(q.shape[1], nq, device)
    total = sub.shape[0] if rows is None else rows.shape[0]
    view = (
        rows is None and isinstance(sub, Tensor) and sub.device == device
        and sub.dtype == compute_dtype
    )  # fmt: skip
    fits = chunk_size is None and view and single_chunk_fits(nq, total, device)
    if not want_stats and (total <= chunk or fits):
        if counts is None:
            mean = _single_chunk_mean(q, tq, sub, rows, compute_dtype)
        else:
            mean = _single_chunk_mean(q, tq, sub, rows, compute_dtype, counts)
        return _Pass(mean=mean, den=None, s1=None, s2=None, top1_index=None)
    if counts is None:
        return _stream(q, tq, sub, rows, chunk, compute_dtype, want_stats)
    return _stream(q, tq, sub, rows, chunk, compute_dtype, want_stats, counts)


def _class_rows(
    data_labels: ArrayLike, labels: ArrayLike, n: int, batch: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(query indices, data rows) per query class; ``ValueError`` for a query class with
    no data row (the class-conditional oracle is undefined there)."""
    dl = _as_labels(data_labels, n, "data_labels")
    ql = _as_labels(labels, batch, "labels")
    order = np.argsort(dl, kind="stable")
    classes, starts, counts = np.unique(dl[order], return_index=True, return_counts=True)
    wanted = np.unique(ql)
    pos = np.searchsorted(classes, wanted)
    missing = wanted[(pos >= classes.size) | (classes[np.minimum(pos, classes.size - 1)] != wanted)]
    if missing.size:
        raise ValueError(
            f"oracle: query classes {missing[:10].tolist()} have no sample in data_labels "
            "(empty class); the class-conditional oracle is undefined there"
        )
    for cls, p in zip(wanted, pos, strict=True):
        yield np.nonzero(ql == cls)[0], order[starts[p] : starts[p] + counts[p]]


def _empty_pass(xc: Tensor) -> _Pass:
    """The posterior of zero queries."""
    zero = xc.new_zeros(0)
    index = torch.zeros(0, dtype=torch.int64, device=xc.device)
    return _Pass(mean=xc.clone(), den=zero, s1=zero.clone(), s2=zero.clone(), top1_index=index)


def _run(
    x: Tensor,
    t: float | ArrayLike,
    data: ArrayLike,
    data_labels: ArrayLike | None,
    labels: ArrayLike | None,
    chunk_size: int | None,
    compute_dtype: torch.dtype | None,
    want_stats: bool,
    row_counts: ArrayLike | None = None,
) -> tuple[Tensor, Tensor, _Pass, np.ndarray]:
    """Checked inputs and the posterior pass: (queries (B, D), queries in the compute dtype,
    the pass, times (B,)); class-conditional by streaming each query class's data rows (a
    slice when they are contiguous), with the multiplicities of the same rows."""
    x2 = _as_queries(x)
    batch, dim = x2.shape
    data2 = _as_data(data, dim)
    tt = _as_times(t, batch)
    chunk_size, compute_dtype = _check_options(x, data_labels, labels, chunk_size, compute_dtype)
    cnt = None if row_counts is None else _as_counts(row_counts, data2.shape[0])
    xc = x2.to(compute_dtype)
    if batch == 0:
        return x2, xc, _empty_pass(xc), tt
    if labels is None:
        res = _one_pass(xc, tt, data2, None, chunk_size, compute_dtype, want_stats, cnt)
        return x2, xc, res, tt
    device = x2.device
    mean = torch.zeros_like(xc)  # every row written below; zeros: no stray bits
    den = xc.new_zeros(batch) if want_stats else None
    s1 = xc.new_zeros(batch) if want_stats else None
    s2 = xc.new_zeros(batch) if want_stats else None
    best = torch.empty(batch, dtype=torch.int64, device=device) if want_stats else None
    for q, rows in _class_rows(data_labels, labels, data2.shape[0], batch):
        if rows[-1] - rows[0] + 1 == rows.size:  # contiguous rows: stream a slice
            lo, hi = int(rows[0]), int(rows[-1]) + 1
            sub = data2[lo:hi]
            csub = None if cnt is None else cnt[lo:hi]
            if csub is not None:
                _check_some_count(csub, "a queried class")
            part = _one_pass(xc[q], tt[q], sub, None, chunk_size, compute_dtype, want_stats, csub)
            if want_stats:
                part.top1_index += lo
        else:
            csub = None if cnt is None else cnt[rows]
            if csub is not None:
                _check_some_count(csub, "a queried class")
            part = _one_pass(xc[q], tt[q], data2, rows, chunk_size, compute_dtype, want_stats, csub)
        qd = torch.from_numpy(q).to(device)
        mean[qd] = part.mean
        if want_stats:
            den[qd], s1[qd], s2[qd], best[qd] = part.den, part.s1, part.s2, part.top1_index
    return x2, xc, _Pass(mean=mean, den=den, s1=s1, s2=s2, top1_index=best), tt


def _no_autocast(x: Tensor) -> torch.autocast:
    """Autocast off on the queries' device: in bf16 the logits a <x, x1_i> - b ||x1_i||^2
    lose the digits the softmax depends on, so the oracle computes in its ``compute_dtype``
    even when called inside a caller's ``torch.autocast`` region."""
    device_type = x.device.type if isinstance(x, Tensor) else "cpu"  # bad x: _run says so
    return torch.autocast(device_type, enabled=False)


def _velocity(xc: Tensor, mean: Tensor, tt: np.ndarray, inplace: bool = False) -> Tensor:
    """(mean - x) / (1 - t); ``inplace`` overwrites ``mean`` (when nothing else reads it)."""
    out = mean.sub_(xc) if inplace else mean - xc
    if tt.size and bool(np.all(tt == tt[0])):
        return out.mul_(1.0 / (1.0 - float(tt[0])))
    return out.mul_(torch.from_numpy(1.0 / (1.0 - tt)).to(xc.device, xc.dtype)[:, None])


# ----------------------------------------------------------------------------- public API


def oracle_velocity(
    x: Tensor,
    t: float | ArrayLike,
    data: ArrayLike,
    *,
    data_labels: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    chunk_size: int | None = None,
    compute_dtype: torch.dtype | None = None,
    row_counts: ArrayLike | None = None,
) -> Tensor:
    """Exact oracle velocity v*(x, t) = (E[x1 | x_t = x] - x) / (1 - t) of a finite data set.

    Args:
        x: queries x_t, shape (B, ...) (flattened to (B, D)), any floating dtype and device.
        t: time in [0, 1) (t = 0 noise, t = 1 data): a float or a (B,) tensor / array.
        data: the data set {x1_i}, shape (N, ...) flattening to (N, D); a torch tensor (any
            device; chunks are moved to x's device) or a numpy array / np.memmap (read chunk
            by chunk). float16 / bfloat16 / float32 / float64.
        data_labels, labels: (N,) and (B,) integer class labels for the class-conditional
            oracle (each query's softmax runs over its own class only); both or neither.
        chunk_size: rows of data per chunk (default: :func:`default_chunk_size`).
        compute_dtype: float32 (default) or float64 (default when x is float64).
        row_counts: optional (N,) multiplicity c_i >= 0 of each data row (0: weight exactly
            0, e.g. the later copies of a duplicated row; integers or floats): the posterior weights become gamma_i ∝ c_i exp(l_i) (a per-row bias
            log2(c_i) on the base-2 logits). Deduplicating the rows of a data set and passing
            their counts gives the same posterior mean and velocity as the data set with its
            duplicates (up to float rounding); the statistics of :func:`oracle_posterior`
            (top-1 weight, entropy, effective sample size) then count each distinct row as one
            mode (the top-1 weight is the summed weight of its copies). None (default): every
            row counts once, and nothing is added to the computation.

    Returns:
        v*(x, t) with x's shape and dtype. At t = 0 it is mean(x1) - x (of the class).
    """
    with _no_autocast(x):
        x2, xc, res, tt = _run(
            x, t, data, data_labels, labels, chunk_size, compute_dtype, False, row_counts
        )
    return _velocity(xc, res.mean, tt, inplace=True).to(x.dtype).reshape(x.shape)


def posterior_mean(
    x: Tensor,
    t: float | ArrayLike,
    data: ArrayLike,
    *,
    data_labels: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    chunk_size: int | None = None,
    compute_dtype: torch.dtype | None = None,
    row_counts: ArrayLike | None = None,
) -> Tensor:
    """Posterior mean E[x1 | x_t = x] = sum_i gamma_i(x, t) x1_i (Nadaraya-Watson), with
    x's shape and dtype; arguments as in :func:`oracle_velocity` (with ``row_counts``,
    gamma_i ∝ c_i exp(l_i): the mean of the data set with row i repeated c_i times)."""
    with _no_autocast(x):
        _, _, res, _ = _run(
            x, t, data, data_labels, labels, chunk_size, compute_dtype, False, row_counts
        )
    return res.mean.to(x.dtype).reshape(x.shape)


def oracle_posterior(
    x: Tensor,
    t: float | ArrayLike,
    data: ArrayLike,
    *,
    data_labels: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    chunk_size: int | None = None,
    compute_dtype: torch.dtype | None = None,
    row_counts: ArrayLike | None = None,
) -> OracleResult:
    """Velocity, posterior mean and posterior statistics (top-1 weight and row index,
    entropy, effective sample size) in one pass; arguments as in :func:`oracle_velocity`.

    With ``row_counts`` the weights are gamma_i ∝ c_i exp(l_i) over the N given rows: on
    deduplicated rows with their counts, velocity and mean are those of the duplicated data
    (up to float rounding), while top-1 weight, entropy and effective sample size count
    distinct rows (modes): the top-1 weight is the summed weight of the copies of the
    heaviest row, and ``top1_index`` indexes the given (deduplicated) rows."""
    with _no_autocast(x):
        _, xc, res, tt = _run(
            x, t, data, data_labels, labels, chunk_size, compute_dtype, True, row_counts
        )
    assert res.s1 is not None and res.s2 is not None and res.top1_index is not None
    den = res.den
    assert den is not None
    return OracleResult(
        velocity=_velocity(xc, res.mean, tt).to(x.dtype).reshape(x.shape),
        mean=res.mean.to(x.dtype).reshape(x.shape),
        top1_weight=den.reciprocal(),
        top1_index=res.top1_index,
        entropy=den.log() - math.log(2.0) * res.s1 / den,
        ess=den.square() / res.s2,
    )
