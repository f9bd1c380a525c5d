"""The README's claim table, regenerated from ``results/<run_name>/claims.parquet`` (issue 15, item 9):
the verdicts in the README are the pipeline's, never written by hand.

``python -m navref.report.readme results/<run_name>/claims.parquet README.md`` replaces everything
between the markers ``<!-- claims:begin -->`` and ``<!-- claims:end -->`` with a table of
claim id, verdict (marked "fragile" when it flips within the split thresholds), the claim
and a one-line summary of its numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from navref.io import atomic_path

BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"
SUMMARY_CHARS = 160


def one_line(numbers: str, limit: int = SUMMARY_CHARS) -> str:
    """``numbers`` on one line, cut at ``limit`` characters (at a word, with "...")."""
    text = " ".join(str(numbers or "").split()).replace("|", "/")
    if len(text) <= limit:
        return text
    return text[: limit - 3].rsplit(" ", 1)[0] + " ..."


def claims_table(claims: pd.DataFrame) -> str:
    """The Markdown table of the claim records (columns of ``claims.parquet``)."""
    lines = ["| # | verdict | criterion fixed | claim | numbers |", "|---|---|---|---|---|"]
    for r in claims.sort_values("claim_id").itertuples(index=False):
        fragile = getattr(r, "fragile", None)
        flips = fragile is not None and not pd.isna(fragile) and bool(fragile)  # NA: not assessed
        verdict = f"{r.verdict} (fragile)" if flips else r.verdict
        fixed = getattr(r, "criterion_fixed", None) or "not recorded"
        lines.append(
            f"| {r.claim_id} | **{verdict}** | {fixed} | {r.claim} | {one_line(r.numbers)} |"
        )
    return "\n".join(lines)


def replace_between_markers(text: str, table: str) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``table``;
    a ``ValueError`` when the markers are missing or out of order."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README needs the markers {BEGIN} ... {END} in this order")
    return text[: start + len(BEGIN)] + "\n" + table + "\n" + text[end:]


def update_readme(claims_path: str | Path, readme_path: str | Path) -> None:
    """Rewrite the claim table of ``readme_path`` from ``claims_path`` (atomically)."""
    readme = Path(readme_path)
    new = replace_between_markers(readme.read_text(), claims_table(pd.read_parquet(claims_path)))
    with atomic_path(readme, suffix=".md") as tmp:
        tmp.write_text(new)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(
            "usage: python -m navref.report.readme results/<run_name>/claims.parquet README.md"
        )
    update_readme(sys.argv[1], sys.argv[2])
