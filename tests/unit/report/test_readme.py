"""Tests for navref.report.readme: the README's claim table from claims.parquet."""

from __future__ import annotations

import pandas as pd
import pytest

from navref.report.readme import BEGIN, END, claims_table, one_line, update_readme


def _claims() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "claim_id": [2, 1],
            "claim": ["Gap before the split.", "Split moves with D and N."],
            "numbers": ["R = 0.01 | 0.02", "x " * 200],
            "verdict": ["not reproduced", "reproduced"],
            "fragile": pd.array([True, False], dtype="boolean"),
            "criterion_fixed": ["changed after results: 2026-12-08", "in advance"],
        }
    )


def test_one_line():
    assert one_line("a\n b  c") == "a b c"
    cut = one_line("word " * 100, limit=20)
    assert len(cut) <= 20 and cut.endswith(" ...")


def test_update_readme_rewrites_only_between_markers(tmp_path):
    pq, md = tmp_path / "claims.parquet", tmp_path / "README.md"
    _claims().to_parquet(pq)
    md.write_text(f"# top\n{BEGIN}\nold table\n{END}\nbottom\n")
    update_readme(pq, md)
    text = md.read_text()
    assert text.startswith(f"# top\n{BEGIN}\n") and text.endswith(f"{END}\nbottom\n")
    assert "old table" not in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| 1 | **reproduced** | in advance | Split moves")
    assert rows[2] == (
        "| 2 | **not reproduced (fragile)** | changed after results: 2026-12-08 | "
        "Gap before the split. | R = 0.01 / 0.02 |"
    )
    update_readme(pq, md)  # idempotent
    assert md.read_text() == text
    assert claims_table(_claims()).count("\n") == 3


def test_update_readme_needs_markers(tmp_path):
    pq, md = tmp_path / "claims.parquet", tmp_path / "README.md"
    _claims().to_parquet(pq)
    md.write_text(f"{END}\n{BEGIN}\n")
    with pytest.raises(ValueError, match="markers"):
        update_readme(pq, md)
