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

__all__ = ["MODEL_SPLIT_T", "OBJECTIVE_SPLIT_T", "PAPER_SHARE_T", "ROLE_OF"]

#: t at which the paper's objective changes character (ImageNet 256, Fig. 2).
OBJECTIVE_SPLIT_T = 0.1
#: t at which the paper's model behaviour changes (Fig. 4, 7, 8).
MODEL_SPLIT_T = 0.2
#: Tab. 2's middle column is the share of the 50 steps with t below this value.
PAPER_SHARE_T = 0.2
#: The paper's model names -> our size roles.
ROLE_OF = {"Base": "small", "XL": "large"}
