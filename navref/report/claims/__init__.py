"""The paper's claims, each checked against our results with a criterion fixed in code.

The criteria of claims 1-8 were written from the paper's text before the pipeline's model,
probe and sweep results existed (2026-11-21), those of claims 9-11 before any run judged them
(2026-11-29). Some were changed later, some after results had been seen: :mod:`.dated` holds
the dates, ``claims.md`` says "fixed in advance" only of criteria never changed after results,
and each change is dated in its criterion's text. Each criterion can come out negative;
:mod:`.verdict` says how parts of a criterion make a verdict (reproduced / not reproduced /
inconclusive).

One module per group of claims, each claim declared with its statement, criterion and source
right above the code that decides it (:mod:`.registry`):

- :mod:`.oracle`: claims 1, 2 (oracle analysis, Fig. 2, 3);
- :mod:`.models`: claims 3, 8 (oracle loss of trained models, Fig. 7, 9);
- :mod:`.probes`: claim 4 (mixed sampling, Fig. 5);
- :mod:`.stage_swap`, :mod:`.timestep_shift`, :mod:`.cfg_interval`: claims 5, 6, 7 (Tab. 1-3,
  read from the tables rule ``report_sweep_table`` writes; what they share is in :mod:`.sweeps`);
- :mod:`.oracle_training`, :mod:`.settledness`, :mod:`.generalization`: claims 9, 10, 11
  (App. B, Fig. 4, Fig. 6; added 2026-11-29, issue 15, criteria dated in :mod:`.dated`).

What each claim needs from a config to be decidable: :mod:`.config_needs`.

Time convention: t in [0, 1], t = 0 noise, t = 1 data. "Navigation" is t below the split
time t_s (:class:`navref.analysis.split_times.SplitTimes`, or the one the caller passes),
"refinement" is t_s <= t <= ``T_HI``.

:func:`evaluate_claims` returns one record per claim with ``claim_id, claim, criterion,
numbers, verdict, why``; :func:`write_claims` writes them as Markdown and Parquet.
"""

from navref.report.claims import (
    cfg_interval,
    generalization,
    models,
    oracle,
    oracle_training,
    probes,
    settledness,
    stage_swap,
    timestep_shift,
)
from navref.report.claims.cfg_interval import claim7
from navref.report.claims.evaluate import ClaimInputs, evaluate_claims
from navref.report.claims.generalization import claim11
from navref.report.claims.models import claim3, claim8
from navref.report.claims.oracle import claim1, claim2
from navref.report.claims.oracle_training import claim9
from navref.report.claims.output import claims_markdown, write_claims
from navref.report.claims.probes import claim4
from navref.report.claims.registry import CLAIMS, Claim
from navref.report.claims.settledness import claim10
from navref.report.claims.stage_swap import claim5
from navref.report.claims.timestep_shift import claim6
from navref.report.claims.verdict import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    T_HI,
    VERDICTS,
)

__all__ = [
    "CLAIMS",
    "ClaimInputs",
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "T_HI",
    "VERDICTS",
    "Claim",
    "claim1",
    "claim2",
    "claim3",
    "claim4",
    "claim5",
    "claim6",
    "claim7",
    "claim8",
    "claim9",
    "claim10",
    "claim11",
    "cfg_interval",
    "claims_markdown",
    "evaluate_claims",
    "generalization",
    "models",
    "oracle",
    "oracle_training",
    "probes",
    "settledness",
    "stage_swap",
    "timestep_shift",
    "write_claims",
]
