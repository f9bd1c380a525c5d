"""``claims.md`` and ``claims.parquet``: the claim records as a report and as a table."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from navref import paper
from navref.io import atomic_path, save_parquet
from navref.report.claims.dated import short_status, status
from navref.report.claims.registry import RECORD_COLUMNS
from navref.report.claims.verdict import VERDICTS


def _verdict(record: Mapping) -> str:
    """The verdict, marked when it flips within the split thresholds (:mod:`.sensitivity`)."""
    return f"{record['verdict']} (fragile)" if record.get("fragile") is True else record["verdict"]


def claims_markdown(records: Sequence[Mapping]) -> str:
    """A summary table (id, verdict, claim) and one section per claim with its criterion,
    numbers and reasoning."""
    lines = [
        "| # | verdict | claim |",
        "|---|---|---|",
        *[f"| {r['claim_id']} | **{_verdict(r)}** | {r['claim']} |" for r in records],
        "",
    ]
    for r in records:
        lines += [
            f"### Claim {r['claim_id']}: {_verdict(r)}",
            "",
            f"*Claim.* {r['claim']}",
            "",
            f"*Criterion ({status(int(r['claim_id']))}).* {r['criterion']}",
            "",
            f"*Numbers.* {r['numbers'] or '(none)'}",
            "",
            f"*Why.* {r['why']}",
            "",
        ]
        if r.get("sensitivity"):
            lines += [f"*Sensitivity.* {r['sensitivity']}", ""]
    lines.append(
        f"Paper's reference split times: objective t = {paper.OBJECTIVE_SPLIT_T}, model "
        f"behaviour t = {paper.MODEL_SPLIT_T} (ImageNet 256); ours come from our data."
    )
    return "\n".join(lines) + "\n"


def write_claims(
    records: Sequence[Mapping], md_path: str | os.PathLike, parquet_path: str | os.PathLike
) -> None:
    """Write the claim records as Markdown (:func:`claims_markdown`) and Parquet, atomically
    (``sensitivity`` and ``fragile`` empty for records judged without :func:`evaluate_claims`;
    ``criterion_fixed``: :func:`.dated.short_status`)."""
    frame = pd.DataFrame(list(records), columns=[*RECORD_COLUMNS, "sensitivity", "fragile"])
    frame["fragile"] = frame["fragile"].astype("boolean")  # NA: not assessed
    frame["criterion_fixed"] = [short_status(int(i)) for i in frame["claim_id"]]
    bad = sorted(set(frame["verdict"]) - set(VERDICTS))
    if bad:
        raise ValueError(f"write_claims: unknown verdicts {bad}; use one of {VERDICTS}")
    with atomic_path(Path(md_path), suffix=".md") as tmp:
        tmp.write_text(claims_markdown(records))
    save_parquet(parquet_path, frame)
