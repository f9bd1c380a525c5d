"""Tables as small standalone HTML pages, the items the Snakemake report shows inline.

The Snakemake report offers Markdown files only as downloads; an ``.html`` report item is
shown in the page. Each page here holds an optional sentence and one or more titled tables
(``pandas.DataFrame.to_html``, escaped), styled to stay readable in the report's viewer.
The Markdown / Parquet / LaTeX files beside them are unchanged.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from navref.io import atomic_path

__all__ = ["html_page", "write_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
p { max-width: 60em; }
"""


def html_page(title: str, sections: Sequence[tuple[str, pd.DataFrame]], intro: str = "") -> str:
    """A standalone HTML document: ``title`` as heading, ``intro`` as a paragraph, then each
    (section title, frame) as a heading and a table (cells shown as ``str``; no index).
    Every text is escaped, so e.g. ``gFID@50K`` stays plain text."""
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h2>{html.escape(title)}</h2>",
    ]
    if intro:
        parts.append(f"<p>{html.escape(intro)}</p>")
    for heading, frame in sections:
        if heading:
            parts.append(f"<h3>{html.escape(heading)}</h3>")
        parts.append(frame.astype(str).to_html(index=False, border=0, escape=True))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html(
    path: str | os.PathLike,
    title: str,
    sections: Sequence[tuple[str, pd.DataFrame]],
    intro: str = "",
) -> Path:
    """Write :func:`html_page` to ``path`` atomically; returns the path."""
    path = Path(path)
    with atomic_path(path, suffix=".html") as tmp:
        Path(tmp).write_text(html_page(title, sections, intro), encoding="utf-8")
    return path
