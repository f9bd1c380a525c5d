"""Paired differences between two sampling settings that share their noise, as claims 5-7
judge them: the paired bootstrap of the difference when replicates exist, else the paired t
interval over seeds, else the single-run margin. The estimators live in
:mod:`navref.sweeps.paired` (shared with Tab. 1-3); this module names them for the claims
and states the rule in the criteria's words (``BEYOND_NOISE``).
"""

from __future__ import annotations

from navref.sweeps.paired import (
    BOOTSTRAP,
    LEVEL,
    MARGIN,
    PAIRED_T,
    SINGLE_RUN_SHARE,
    PairedDifference,
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

__all__ = [
    "BEYOND_NOISE",
    "BOOTSTRAP",
    "LEVEL",
    "MARGIN",
    "PAIRED_T",
    "SINGLE_RUN_SHARE",
    "PairedDifference",
    "bootstrap_difference",
    "paired_difference",
    "replicate_matrix",
    "seed_difference",
    "setting_difference",
]
