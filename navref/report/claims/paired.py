"""Paired differences between two sampling settings that share their noise, as claims 5-7
judge them: the paired (two-level, where training replicates exist) bootstrap of the
difference when replicates exist, else the paired t interval, else the single-run margin;
best-of-group picks repeated inside the draws. The estimators live in
:mod:`navref.sweeps.paired` (shared with Tab. 1-3); this module names them for the claims
and states the rule in the criteria's words (``BEYOND_NOISE``).
"""

from __future__ import annotations

from navref.sweeps.paired import (
    BOOTSTRAP,
    LEVEL,
    MARGIN,
    MIN_EFFECT_SHARE,
    PAIRED_T,
    PICK_STABLE_SHARE,
    SINGLE_RUN_SHARE,
    BestDifference,
    PairedDifference,
    best_difference,
    bootstrap_difference,
    paired_difference,
    replicate_matrix,
    seed_difference,
    setting_difference,
)

#: how the criteria of claims 5-7 judge a difference of FID
BEYOND_NOISE = (
    f"beyond the noise = the {LEVEL:.0%} interval of the difference excludes 0, from the first "
    f"of: the {BOOTSTRAP} (the evaluation resamples each seed's samples with the same indices "
    "for every setting of that seed; per replicate the difference is averaged over the shared "
    f"seeds; the replicates' spread centred on the full sets' difference; defined with one seed), the {PAIRED_T} interval of the "
    f"per-seed differences (>= 2 seeds, no replicates); with a single run and no replicates, "
    f"the {MARGIN}: the difference exceeds {SINGLE_RUN_SHARE:.0%} of the reference setting's "
    "FID. The numbers name the method used"
)

#: the 2026-12-08 changes of ``BEYOND_NOISE``'s rule (issue 24), dated, for the criteria
STATS_CHANGE = (
    "Changed 2026-12-08 (issue 24; made after the "
    "default run's verdicts had been seen): (1) where settings have several training seeds "
    "(column train_replicate), the bootstrap is two-level: each draw resamples the training "
    "replicates with replacement, then uses the sampling replicate within each (Davison & "
    "Hinkley 1997, sec. 3.8; Ren et al. 2010), and the paired t runs over the training "
    "replicates' mean differences; the numbers say which sources of variance an interval "
    "covers (one training run: sampling noise only). (2) Minimum effect: with a noise "
    f"estimate a difference also needs |difference| >= {MIN_EFFECT_SHARE:.0%} of the "
    "reference setting's FID to count (smaller: within the noise); this minimum was set after "
    "the default run's results had been seen (claim 6 (i) had passed on a difference of 0.4 % "
    "of uniform's FID on that run, 0.9 % on another CPU). (3) Where a part picks the best "
    "(lowest-FID) setting of a group, the pick is repeated inside every bootstrap draw and "
    "the interval comes from those draws (centred on the full-data difference of the "
    "full-data picks); a pick made in fewer than "
    f"{PICK_STABLE_SHARE:.0%} of the draws is reported as unstable (the verdict still follows "
    "the interval)"
)

__all__ = [
    "BEYOND_NOISE",
    "STATS_CHANGE",
    "BOOTSTRAP",
    "LEVEL",
    "MARGIN",
    "PAIRED_T",
    "SINGLE_RUN_SHARE",
    "BestDifference",
    "MIN_EFFECT_SHARE",
    "PICK_STABLE_SHARE",
    "PairedDifference",
    "best_difference",
    "bootstrap_difference",
    "paired_difference",
    "replicate_matrix",
    "seed_difference",
    "setting_difference",
]
