"""HTML report pages: every cell shown, text escaped (no mailto from gFID@50K)."""

from __future__ import annotations

import pandas as pd

from navref.report.html import html_page, write_html


def test_html_page_shows_every_cell_escaped(tmp_path):
    frame = pd.DataFrame({"setting": ["[0.1, 0.3]", "none"], "fid": ["1.95 ± 0.1", "<b>4"]})
    page = html_page("Table 3 gFID@50K", [("CFG", frame)], intro="a & b")
    for cell in ("[0.1, 0.3]", "none", "1.95 ± 0.1"):
        assert f"<td>{cell}</td>" in page
    assert "<td>&lt;b&gt;4</td>" in page and "a &amp; b" in page
    assert "mailto" not in page and "gFID@50K" in page
    path = write_html(tmp_path / "t.html", "t", [("", frame)])
    assert path.read_text().count("<tr") == 3  # header + 2 rows
