"""The criterion's "fixed in advance" label follows the dated record of changes (issue 24,
item 7): only criteria never changed after results were seen are called fixed in advance."""

import pandas as pd

from navref.report import claims as C
from navref.report.claims import dated
from navref.report.claims.dated import Revision


def _record(claim_id: int) -> dict:
    return {
        "claim_id": claim_id,
        "claim": "c",
        "criterion": "k",
        "numbers": "n",
        "verdict": C.REPRODUCED,
        "why": "w",
    }


def test_status_follows_revisions(monkeypatch):
    monkeypatch.setattr(dated, "REVISIONS", {2: (Revision("2026-12-01", "x", seen=False),)})
    assert dated.status(1) == "fixed 2026-11-21, before any result judged it"
    assert "changed 2026-12-01 before results judged it" in dated.status(2)
    assert dated.short_status(2) == "in advance"
    monkeypatch.setattr(
        dated, "REVISIONS", {2: (Revision("2026-12-03", "y"), Revision("2026-12-01", "x"))}
    )
    assert dated.changed_after_results(2) == ["2026-12-01", "2026-12-03"]
    assert "changed after results had been seen on 2026-12-01, 2026-12-03" in dated.status(2)
    assert "in advance" not in dated.short_status(2)


def test_markdown_and_parquet_say_it(tmp_path):
    changed = next(iter(dated.REVISIONS))
    unchanged = next(i for i in range(1, 12) if i not in dated.REVISIONS)
    records = [_record(unchanged), _record(changed)]
    md = C.claims_markdown(records)
    assert f"*Criterion ({dated.status(unchanged)}).*" in md
    assert f"*Criterion ({dated.status(changed)}).*" in md
    assert "fixed in code in advance" not in md
    C.write_claims(records, tmp_path / "c.md", tmp_path / "c.parquet")
    frame = pd.read_parquet(tmp_path / "c.parquet").set_index("claim_id")
    assert frame.loc[unchanged, "criterion_fixed"] == "in advance"
    assert frame.loc[changed, "criterion_fixed"].startswith("changed after results")
