"""The Snakemake report as a person sees it: rendered by headless Chromium, clicked through.

The report (``report.html`` of the smoke run, or the one named by ``NAVREF_REPORT``, as
``make report-check`` does for the configured run) is a single-page app; each test opens a
copy of it with a small script appended that clicks menu entries and a result's "eye"
button as a person would, then reads the rendered DOM (``--dump-dom``) or a screenshot.
Skipped when Chromium is not installed (``apt-get install chromium`` on Debian, or
``make report-check``, which installs it).

Set ``NAVREF_SCREENSHOT=<path.png>`` to keep the screenshot of Table 3 in the report (the
README's picture, docs/report_table3.png, is one).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_snakemake

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = [
    pytest.mark.slow,  # the smoke run (shared with test_pipeline.py) unless NAVREF_REPORT
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="headless report check needs Chromium: apt-get install chromium (Debian), or "
        "make report-check (installs it)",
    ),
]

#: the report's categories in the paper's order (rules/common.smk REPORT_CATEGORIES)
PAPER_ORDER = ["Oracle velocity", "Training", "Probes", "Model losses", "Tables 1-3", "Claims"]
WINDOW = "1000,800"


@pytest.fixture(scope="module")
def report(request, tmp_path_factory) -> Path:
    """The report to check: ``NAVREF_REPORT``, else one made from the smoke run."""
    if os.environ.get("NAVREF_REPORT"):
        path = Path(os.environ["NAVREF_REPORT"]).resolve()
        if not path.is_file():
            pytest.fail(f"NAVREF_REPORT={path} does not exist; run make report first")
        return path
    workdir = request.getfixturevalue("smoke_run")
    path = workdir / "results" / "smoke" / "report.html"
    proc = run_snakemake(workdir / "config.yaml", workdir, "--report", str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


def _chromium(url: str, out_flag: str, tmp: Path) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp / 'chromium-profile'}",
        f"--window-size={WINDOW}", "--virtual-time-budget=8000", out_flag, url,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)


#: clicks a person makes, as JavaScript: byText finds the element whose whole text is
#: ``text`` (the last one: the innermost), steps run one after another with a pause
_DRIVER = """<script>
function byText(sel, text) {
  const els = [...document.querySelectorAll(sel)].filter(e => e.textContent.trim() === text);
  if (!els.length) { document.title = 'NOT FOUND: ' + text; throw new Error(text); }
  return els[els.length - 1];
}
function eye(label) {  // the "view" button of the result row whose first cell is label
  const row = [...document.querySelectorAll('tr')].find(
    r => r.cells.length && r.cells[0].textContent.trim() === label);
  if (!row) { document.title = 'NOT FOUND: ' + label; throw new Error(label); }
  row.querySelector('a[iconname=eye]').click();
}
const steps = %s;
window.addEventListener('load', () => {
  steps.reduce((t, step) => { setTimeout(step, t); return t + 300; }, 300);
});
</script>"""


def _open(report: Path, tmp: Path, clicks: list[str], out_flag: str = "--dump-dom") -> str:
    """Render a copy of ``report`` after ``clicks`` (JavaScript statements, one per click);
    returns the dumped DOM (or Chromium's stderr for a screenshot)."""
    page = report.read_text(encoding="utf-8")
    steps = "[" + ", ".join(f"() => {{ {c} }}" for c in clicks) + "]"
    end = page.rindex("</body>")
    driven = tmp / "driven.html"
    driven.write_text(page[:end] + _DRIVER % steps + page[end:], encoding="utf-8")
    proc = _chromium(driven.as_uri(), out_flag, tmp)
    return proc.stdout if out_flag == "--dump-dom" else proc.stderr


def _click_failed(dom: str) -> str:
    """The element a click did not find (the driver writes it into the title), or ""."""
    m = re.search(r"<title>NOT FOUND: (.*?)</title>", dom)
    return m.group(1) if m else ""


def _visible_text(dom: str) -> str:
    """The text a person reads: no scripts (the report's embedded data), no styles, no tags."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


def _results(report: Path) -> dict:
    """The report's embedded results: {path: {mime_type, data_uri, labels, ...}}."""
    m = re.search(r"var results = (\{.*?\});\s*</script>", report.read_text(), re.S)
    assert m, "no results data in the report"
    return json.loads(m.group(1))


def _item(report: Path, name: str) -> tuple[str, str]:
    """(mime type, decoded page) of the report item whose file name is ``name``."""
    entry = next(e for p, e in _results(report).items() if Path(p).name == name)
    payload = entry["data_uri"].split("base64,", 1)[1]
    return entry["mime_type"], base64.b64decode(payload).decode("utf-8", "replace")


def test_menu_lists_the_categories_in_the_papers_order(report, tmp_path):
    text = _visible_text(_open(report, tmp_path, []))
    positions = [text.find(name) for name in PAPER_ORDER]
    assert all(p >= 0 for p in positions), dict(zip(PAPER_ORDER, positions, strict=True))
    assert positions == sorted(positions), dict(zip(PAPER_ORDER, positions, strict=True))
    assert "Loading Snakemake Report" not in text or "Results" in text  # the app rendered


def test_table3_opens_in_the_page_as_an_html_table(report, tmp_path):
    dom = _open(report, tmp_path, ["byText('a', '5 Tables 1-3').click()", "eye('table3')"])
    assert not _click_failed(dom), _click_failed(dom)
    frame = re.search(r'<iframe[^>]*src="(data:text/html[^"]*)"', dom)
    assert frame, "Table 3 is not shown in the page (a download link instead of a view)"
    assert "filename=table3.html" in frame.group(1)
    mime, page = _item(report, "table3.html")
    assert mime == "text/html"
    shown = tmp_path / "table3_shown.html"  # the iframe's page, rendered on its own
    shown.write_text(page, encoding="utf-8")
    rendered = _chromium(shown.as_uri(), "--dump-dom", tmp_path).stdout
    assert rendered.count("<table") == 1 and "<td>" in rendered
    cells = re.findall(r"<td>(.*?)</td>", rendered)
    t3 = pd.read_parquet(report.parent / "tables" / "table3.parquet")
    for fid in t3["fid"]:  # our FID of every interval, as the readable table prints it
        assert any(cell.startswith(f"{fid:.4g}"[:4]) for cell in cells), (fid, cells)
    assert "mailto" not in rendered


def test_claims_open_in_the_page_with_every_verdict(report, tmp_path):
    dom = _open(report, tmp_path, ["byText('a', '6 Claims').click()", "eye('claims')"])
    assert not _click_failed(dom), _click_failed(dom)
    assert re.search(r'<iframe[^>]*src="data:text/html[^"]*filename=claims.html', dom)
    _, page = _item(report, "claims.html")
    shown = tmp_path / "claims_shown.html"
    shown.write_text(page, encoding="utf-8")
    text = _visible_text(_chromium(shown.as_uri(), "--dump-dom", tmp_path).stdout)
    claims = pd.read_parquet(report.parent / "claims.parquet")
    assert len(claims) >= 8
    for cid, verdict in zip(claims["claim_id"], claims["verdict"], strict=True):
        assert f"{cid} {verdict}" in text, (cid, verdict)


#: (category, sub-category or None, the figure's row label) of figures to open
FIGURES_TO_OPEN = [
    ("3 Probes (Fig. 4-6, 8)", "Fig. 5: mixed sampling", "Fig. 5: samples"),
    ("4 Model losses (Fig. 7, 9)", None, "Fig. 9: latent spaces"),
]


@pytest.mark.parametrize(("category", "sub", "label"), FIGURES_TO_OPEN)
def test_a_figure_gets_half_the_window_at_1000_px(report, tmp_path, category, sub, label):
    clicks = [f"byText('a', {category!r}).click()"]
    clicks += [f"byText('a', {sub!r}).click()"] if sub else []
    clicks += [
        f"eye({label!r})",
        "const img = document.querySelector('img[src^=\"data:image/png\"]');"
        "document.title = 'IMG ' + Math.round(img.getBoundingClientRect().width);",
    ]
    dom = _open(report, tmp_path, clicks)
    assert not _click_failed(dom), _click_failed(dom)
    width = re.search(r"<title>IMG (\d+)</title>", dom)
    assert width, "no figure shown"
    # the left pane is as wide as its longest entry: long labels once left figures 340 px
    assert int(width.group(1)) >= 420, f"{label} drawn {width.group(1)} px wide of 1000"


def test_every_table_is_an_html_view_not_a_download(report):
    items = {Path(p).name: e["mime_type"] for p, e in _results(report).items()}
    # a table in any format (table3.md would be a download); table3_fid.png is a figure
    tables = [n for n in items if re.fullmatch(r"(table\d|split_times|claims)\.\w+", n)]
    assert {"table3.html", "split_times.html", "claims.html"} <= set(tables), sorted(items)
    assert all(items[n] == "text/html" for n in tables), {n: items[n] for n in tables}


def test_screenshot_of_table3_at_1000_px(report, tmp_path):
    shot = tmp_path / "report.png"
    clicks = ["byText('a', '5 Tables 1-3').click()", "eye('table3')"]
    _open(report, tmp_path, clicks, out_flag=f"--screenshot={shot}")
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1000, 800)
        colours = len(im.convert("RGB").resize((100, 80)).getcolors(maxcolors=8000) or [])
    assert colours > 20, "blank screenshot"
    if os.environ.get("NAVREF_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["NAVREF_SCREENSHOT"])
