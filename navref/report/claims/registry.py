"""The registry of the paper's claims: each claim's statement, criterion, source and judge.

A claim module declares a claim with the :func:`claim` decorator directly above the code that
decides it, so the criterion's text and its code sit together::

    @claim(5, statement="...", criterion="...", source="Sec. 4.1, Tab. 1", inputs=("table1",))
    def claim5(table1) -> Outcome: ...

``inputs`` names, in the judge's argument order, what :func:`evaluate_claims` hands it (the
keys of its context: ``split_times, synthetic, objective, loss_curves, intermediate, mixed,
unseen, table1, table2, table3, sweeps, splits, model_split, size_order, semantic_space,
other_space``). The decorated function returns the claim's record (``claim_id, claim,
criterion, numbers, verdict, why, grid_limited``; the last, issue 24: what a probe grid lacked
when that alone left the verdict inconclusive, else "").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from navref.report.claims.verdict import Outcome, undecided

RECORD_COLUMNS = ["claim_id", "claim", "criterion", "numbers", "verdict", "why"]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and the criterion that decides it.

    ``statement``: the claim in the paper's words; ``criterion``: how our data decide it
    (fixed in code, stated in ``claims.md``); ``source``: where the paper makes the claim;
    ``inputs``: what the judge reads; ``judge``: returns an :class:`Outcome`."""

    claim_id: int
    statement: str
    criterion: str
    source: str
    inputs: tuple[str, ...]
    judge: Callable[..., Outcome]

    @property
    def claim(self) -> str:
        """The statement (the record's ``claim`` column)."""
        return self.statement

    def record(self, outcome: Outcome) -> dict:
        """The claim's record for ``claims.md`` / ``claims.parquet``."""
        return {
            "claim_id": self.claim_id,
            "claim": self.statement,
            "criterion": self.criterion,
            "numbers": outcome.numbers,
            "verdict": outcome.verdict,
            "why": outcome.why,
            "grid_limited": outcome.grid_limited,
        }

    def evaluate(self, context: Mapping[str, Any]) -> dict:
        """Judge the claim on ``context`` (missing keys are None); a ``ValueError`` of the
        judge (e.g. a setting that was not run) makes it inconclusive."""
        args = [context.get(name) for name in self.inputs]
        try:
            return self.record(self.judge(*args))
        except ValueError as err:
            return self.record(undecided(f"could not evaluate: {err}"))


#: the registered claims by id
CLAIMS: dict[int, Claim] = {}


def claim(
    claim_id: int, *, statement: str, criterion: str, source: str, inputs: tuple[str, ...]
) -> Callable[[Callable[..., Outcome]], Callable[..., dict]]:
    """Register the decorated judge as claim ``claim_id``; the decorated name returns the
    claim's record."""

    def register(judge: Callable[..., Outcome]) -> Callable[..., dict]:
        if claim_id in CLAIMS:
            raise ValueError(f"claim {claim_id} is registered twice")
        entry = Claim(claim_id, statement, criterion, source, inputs, judge)
        CLAIMS[claim_id] = entry

        @functools.wraps(judge)
        def run(*args: Any, **kwargs: Any) -> dict:
            return entry.record(judge(*args, **kwargs))

        return run

    return register


def registered() -> list[Claim]:
    """The registered claims in order of their ids."""
    return [CLAIMS[k] for k in sorted(CLAIMS)]
