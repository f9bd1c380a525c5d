"""When each claim's criterion was fixed and when it changed: one record per claim, read by
``claims.md`` / ``claims.parquet`` (:func:`status`) so that "fixed in advance" is said only of
criteria that were (issue 24, item 7). The reasons for each change are the dated sentences in
the criterion texts; this module holds the dates and whether results had been seen.

Sources of the dates: the git history of ``navref/report/claims*`` (criteria of claims 1-8
first written 2026-11-21, before the default run's first results on 2026-11-22; claims 9-11
written 2026-11-29 before any run judged them).
"""

from __future__ import annotations

from dataclasses import dataclass

#: main's commit when the criteria of claims 9-11 were written
FIXED_AT_COMMIT = "7cbebb0"
FIXED = (
    f"Criterion fixed 2026-11-29 at commit {FIXED_AT_COMMIT} (main), before any run judged it "
    "(issue 15, item 7); written without looking at earlier runs' intermediate, unseen or "
    "oracle-trained loss tables (the README's claims table had been seen: claim 3's CFM "
    "oracle-loss numbers and the default digits_vae split, about 0.36)."
)


@dataclass(frozen=True)
class Revision:
    """One change of a criterion (or its grid/settings): ``date`` (ISO), ``what`` changed
    (one line) and whether results judged by the earlier criterion had been ``seen``."""

    date: str
    what: str
    seen: bool = True


#: first fixed date per claim (before any result judged it)
FIRST_FIXED: dict[int, str] = {
    **dict.fromkeys(range(1, 9), "2026-11-21"),
    **dict.fromkeys((9, 10, 11), "2026-11-29"),
}

#: later changes per claim, oldest first (each also dated in the criterion's text)
REVISIONS: dict[int, tuple[Revision, ...]] = {
    4: (
        Revision("2026-11-22", "probe taus 2x and 2.5x split added after a 'not reproduced'"),
        Revision("2026-11-29", "early/late taus redefined; controls at the late tau added"),
        Revision(
            "2026-12-08",
            "controls from x_tau only (Gaussian control); taus strictly on "
            "their side of the unrounded split",
        ),
    ),
    3: (
        Revision("2026-12-08", "training replicates in the noise; combining rule stated"),
        # issue 25: seen = the default run's verdicts of claims 3 and 5 (made by an
        # unconverged `tiny`) had been seen; no run of configs/study.yaml had judged it
        Revision("2026-12-08", "navigation-convergence gate", seen=True),
    ),
    5: (
        Revision("2026-11-29", "paired differences replace the unpaired seed spread"),
        Revision("2026-12-08", "two-level bootstrap, 2 % minimum effect, Holm's rule"),
        Revision("2026-12-08", "navigation-convergence gate", seen=True),
    ),
    6: (
        Revision("2026-11-29", "paired differences replace the unpaired seed spread"),
        Revision("2026-12-08", "shifts matched to the paper's through the one time mapping"),
        Revision("2026-12-08", "pick inside the draws, 2 % minimum effect, Holm's rule"),
    ),
    7: (
        Revision("2026-11-29", "paired differences; (ii) compares best wide with best [0, b']"),
        Revision("2026-11-29", "default's [0, b] intervals added after earlier verdicts"),
        Revision("2026-12-08", "intervals in units of the split, through the one time mapping"),
        Revision("2026-12-08", "picks inside the draws, 2 % minimum effect, Holm's rule"),
    ),
    9: (Revision("2026-12-08", "training replicates in the noise; combining rule stated"),),
    10: (Revision("2026-12-08", "judged against the stage-free Gaussian control"),),
}


def revisions(claim_id: int) -> tuple[Revision, ...]:
    """The dated changes of claim ``claim_id``'s criterion (empty if none)."""
    return REVISIONS.get(claim_id, ())


def changed_after_results(claim_id: int) -> list[str]:
    """The dates on which claim ``claim_id``'s criterion changed after results were seen."""
    return sorted({r.date for r in revisions(claim_id) if r.seen})


def status(claim_id: int) -> str:
    """How far the criterion of ``claim_id`` was fixed in advance, for ``claims.md``:
    "fixed <date>, before any result judged it" or "fixed <date>; changed after results had
    been seen on <dates> (each change dated in the text)"."""
    first = FIRST_FIXED.get(claim_id, "unknown date")
    seen = changed_after_results(claim_id)
    if not seen:
        unseen = sorted({r.date for r in revisions(claim_id)})
        later = f"; changed {', '.join(unseen)} before results judged it" if unseen else ""
        return f"fixed {first}, before any result judged it{later}"
    return (
        f"fixed {first}; changed after results had been seen on {', '.join(seen)} "
        "(each change dated in the text)"
    )


def short_status(claim_id: int) -> str:
    """:func:`status` in a few words, for the README's claims table: "in advance" or "changed
    after results: <dates>"."""
    seen = changed_after_results(claim_id)
    return f"changed after results: {', '.join(seen)}" if seen else "in advance"
