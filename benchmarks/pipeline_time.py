"""Where a pipeline run spent its time: the Snakemake ``benchmark:`` files, summed per rule.

Every rule writes ``results/<run_name>/benchmarks/<rule>[/<wildcards>...].tsv`` (wall seconds ``s``,
peak resident memory ``max_rss`` in MB, ``cpu_time``). This prints, per rule, the number of
jobs, the job-minutes (sum of wall times), their share of the total, and the largest peak
memory of any of its jobs; then the total. Job-minutes are not the run's wall time: with
``--cores 2`` two jobs run at once.

Usage:

    python benchmarks/pipeline_time.py [--run default | --root results/<run_name>/benchmarks]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def collect(root: Path) -> pd.DataFrame:
    """One row per benchmark file: rule, wall seconds, peak RSS (MB), CPU seconds."""
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root)
        rule = rel.parts[0].removesuffix(".tsv")
        try:
            frame = pd.read_csv(path, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise SystemExit(f"pipeline_time: cannot read {path} ({exc}); delete it") from exc
        if "s" not in frame.columns or frame.empty:
            raise SystemExit(f"pipeline_time: {path} has no 's' column; not a benchmark file")
        last = frame.iloc[-1]
        rows.append(
            {
                "rule": rule,
                "seconds": float(last["s"]),
                "max_rss_mb": pd.to_numeric(last.get("max_rss"), errors="coerce"),
                "cpu_seconds": pd.to_numeric(last.get("cpu_time"), errors="coerce"),
            }
        )
    if not rows:
        raise SystemExit(f"pipeline_time: no benchmark files under {root}; run the pipeline first")
    return pd.DataFrame(rows)


def summarise(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: jobs, job-minutes, share of the total, largest peak RSS; sorted by time."""
    per = jobs.groupby("rule").agg(
        jobs=("seconds", "size"),
        job_minutes=("seconds", lambda s: s.sum() / 60),
        cpu_minutes=("cpu_seconds", lambda s: s.sum() / 60),
        max_rss_mb=("max_rss_mb", "max"),
    )
    per["share"] = per["job_minutes"] / per["job_minutes"].sum()
    return per.sort_values("job_minutes", ascending=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", default="default", help="the config's run_name (default: default)")
    p.add_argument("--root", type=Path, help="benchmark folder (default: results/<run>/benchmarks)")
    args = p.parse_args(argv)
    args.root = args.root or Path("results") / args.run / "benchmarks"
    if not args.root.is_dir():
        raise SystemExit(f"pipeline_time: {args.root} does not exist; run the pipeline first")
    per = summarise(collect(args.root))
    table = per.reset_index().rename(columns={"job_minutes": "job-min", "cpu_minutes": "cpu-min"})
    table["share"] = (100 * table["share"]).map("{:.0f} %".format)
    for col in ("job-min", "cpu-min"):
        table[col] = table[col].map("{:.1f}".format)
    table["max_rss_mb"] = table["max_rss_mb"].map("{:.0f}".format)
    print(table.to_string(index=False))
    total = per["job_minutes"].sum()
    print(f"# total: {int(per['jobs'].sum())} jobs, {total:.1f} job-minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
