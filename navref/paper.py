"""The paper's published constants (arXiv:2512.02826); its Tab. 1-3 rows live with their
sweep kinds (``paper_rows`` of :mod:`navref.sweeps.stage_swap`, :mod:`.timestep_shift`,
:mod:`.cfg_interval`), drawn from the same source.

Source: /work/shared/paper/NOTES.md, which restores the row labels the text extraction lost.
Nothing here is invented: Tab. 2's shift factors s are recomputed (in NOTES.md) from the
printed share of steps with t < 0.2, and the wider CFG intervals of Tab. 3 whose labels were
not recovered are kept with ``interval = None`` (and ``cfg_b = NaN``) so that they are never
matched to one of our settings.

Time convention: t in [0, 1], t = 0 is the Gaussian prior (noise), t = 1 is the data.

Keys used to match our sweeps (each kind's ``table``):

- Tab. 1 by ``tau`` and (``stage1_role``, ``stage2_role``) with roles ``"small"`` (the paper's
  Base) and ``"large"`` (XL);
- Tab. 2 by the shift factor ``shift`` (s);
- Tab. 3 by the interval ``(cfg_a, cfg_b)``; "no CFG" is ``interval = "none"``, ``cfg_a`` and
  ``cfg_b`` NaN.
"""

from __future__ import annotations

import math

__all__ = [
    "MODEL_SPLIT_T",
    "OBJECTIVE_SPLIT_T",
    "PAPER_SHARE_T",
    "PAPER_SPLIT",
    "ROLE_OF",
    "has_counterpart",
    "shift_to_ours",
    "shift_to_paper",
    "to_ours",
    "to_paper",
]

#: The paper's split: the t at which its objective changes character (ImageNet 256, latent
#: D in {4096, 8192}, Sec. 3 / Fig. 2). The one statement of the paper's split; every
#: mapping of the paper's times to ours goes through it (:func:`to_ours`).
PAPER_SPLIT = 0.1
#: the same number under its older name
OBJECTIVE_SPLIT_T = PAPER_SPLIT
#: t at which the paper's model behaviour changes (Fig. 4, 7, 8): 2 x its split.
MODEL_SPLIT_T = 2 * PAPER_SPLIT
#: Tab. 2's middle column is the share of the 50 steps with t below this value (the model's
#: transition, 2 x the split).
PAPER_SHARE_T = MODEL_SPLIT_T
#: The paper's model names -> our size roles.
ROLE_OF = {"Base": "small", "XL": "large"}


# ----------------------------------------------------------------------------- time mapping
#
# One mapping of the paper's times to ours (issue 24, item 3): a paper time t_p stands for
#
#     t = t_p x (our split / PAPER_SPLIT),
#
# i.e. times are compared in units of each side's split. Why linear in the split: the paper
# states its times in those units itself (the model's transition 0.2 is 2 x its objective
# split 0.1, Tab. 1 swaps at 1x and 2x the split, Tab. 2 counts steps below 2 x the split,
# claim 10 settles at 2 x the split), and the split is the one time scale we measure on our
# data (:mod:`navref.analysis.split_times`); no second reference point (a time that maps to
# itself other than 0) is known, so nothing beyond a scale factor can be fixed. Before
# 2026-12-08 Tab. 1 mapped by multiples of the split, Tab. 2 compared our share below our
# split with the paper's below 0.2 (2 x its split) and Tab. 3 matched absolute t.
#
# A paper time whose image lies beyond t = 1 has no counterpart at our split: the functions
# return the unclipped value and :func:`has_counterpart` says whether it lies in [0, 1];
# nothing here clips. Time convention: t = 0 noise, t = 1 data.


def _check_split(split: float) -> float:
    s = float(split)
    if not (math.isfinite(s) and 0.0 < s < 1.0):
        raise ValueError(f"a split time must lie in (0, 1), got {split!r}")
    return s


def to_ours(t_paper: float, split: float) -> float:
    """The time of ours that the paper's time ``t_paper`` stands for at our split ``split``:
    ``t_paper * split / PAPER_SPLIT``, unclipped (beyond 1: no counterpart,
    :func:`has_counterpart`)."""
    return float(t_paper) * _check_split(split) / PAPER_SPLIT


def to_paper(t: float, split: float) -> float:
    """The paper's time that our time ``t`` stands for at our split ``split`` (the inverse
    of :func:`to_ours`): ``t * PAPER_SPLIT / split``."""
    return float(t) * PAPER_SPLIT / _check_split(split)


def has_counterpart(t_paper: float, split: float, tol: float = 1e-9) -> bool:
    """Whether the paper's time ``t_paper`` maps into [0, 1] at our split (up to ``tol``)."""
    return -tol <= to_ours(t_paper, split) <= 1.0 + tol


def _odds(t: float) -> float:
    return t / (1.0 - t)


def _transition(split: float) -> float:
    """Our image of the paper's Tab. 2 threshold 0.2 (:data:`PAPER_SHARE_T`); a
    ``ValueError`` when it lies at or beyond t = 1 (no counterpart at this split)."""
    t = to_ours(PAPER_SHARE_T, split)
    if t >= 1.0:
        raise ValueError(
            f"the paper's t = {PAPER_SHARE_T:g} maps to {t:.4g} >= 1 at split {split:g}: Tab. 2's "
            "shifts have no counterpart at this split (give absolute shifts)"
        )
    return t


def shift_to_ours(s_paper: float, split: float) -> float:
    """The timestep shift s' of ours that stands for the paper's shift ``s_paper`` (Tab. 2,
    t_m = s t_n / (1 + (s - 1) t_n) over a uniform t_n, 50 steps in the paper): the one
    whose steps below our image T = :func:`to_ours` (0.2) of the paper's threshold 0.2 make
    the same share as the paper's steps below 0.2, with the same number of steps.

    Closed form: the shift multiplies odds, odds(t_m) = s odds(t_n), so the uniform times
    mapped below T are t_n <= 1 / (1 + s' / odds(T)); equal shares for every number of
    steps need s' / odds(T) = s / odds(0.2), i.e. ``s' = s odds(T) / odds(0.2)`` with
    odds(t) = t / (1 - t). At the paper's split (T = 0.2) s' = s. A ``ValueError`` when
    T >= 1 (no counterpart)."""
    if not float(s_paper) > 0:
        raise ValueError(f"a shift must be > 0, got {s_paper!r}")
    return float(s_paper) * _odds(_transition(split)) / _odds(PAPER_SHARE_T)


def shift_to_paper(s: float, split: float) -> float:
    """The paper's shift that our shift ``s`` stands for at our split (inverse of
    :func:`shift_to_ours`)."""
    if not float(s) > 0:
        raise ValueError(f"a shift must be > 0, got {s!r}")
    return float(s) * _odds(PAPER_SHARE_T) / _odds(_transition(split))
