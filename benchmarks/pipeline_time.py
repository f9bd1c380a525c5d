"""Where a pipeline run spent its time: the Snakemake ``benchmark:`` files, summed per rule.

Every rule writes ``results/<run_name>/benchmarks/<rule>[/<wildcards>...].tsv`` (wall seconds ``s``,
peak resident memory ``max_rss`` in MB, ``cpu_time``). This prints, per rule, the number of
jobs, the job-minutes (sum of wall times), their share of the total, and the largest peak
memory of any of its jobs; then the total. Job-minutes are not the run's wall time: with
``--cores 2`` two jobs run at once.

Fixed cost per job: every job's rule log (``results/<run_name>/logs/<rule>[/...].log``) holds
``navref: ready after X.XX s since process start`` (logged by navref.workflow.rule_context
once the script's imports and set-up are done; process start from /proc). Per rule this
prints the median of X (``fixed_s``), the job-minutes they add up to (``fixed-min``), and the
median of the ``inputs loaded`` mark where a rule logs one (``loaded_s``). The last mark
in a log counts (a rerun appends to its log).

``--brief``: one line, as ``make reproduce`` and ``make <artefact>`` print at their end:
``results/default/: 95 jobs, 24.8 job-minutes, longest rule train_model 7.1``
(every job of the run that has a benchmark file, this and earlier invocations).

Usage:

    python benchmarks/pipeline_time.py [--run default | --root results/<run_name>/benchmarks]
                                       [--logs results/<run_name>/logs] [--brief]
"""

from __future__ import annotations

import argparse
import re
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


#: A fixed-cost mark of navref.workflow.mark: what (``ready``, ``inputs loaded``) and seconds.
MARK = re.compile(
    r"navref: (?P<what>[a-z ]+?) after (?P<s>[0-9]+(?:\.[0-9]+)?) s since process start"
)


def collect_marks(root: Path) -> pd.DataFrame:
    """One row per rule log with a ``ready`` mark: rule, ``fixed_seconds`` (the last
    ``ready`` mark) and ``loaded_seconds`` (the last ``inputs loaded`` mark, NaN if none);
    no rows when ``root`` does not exist (a run from before the marks)."""
    rows = []
    for path in sorted(root.rglob("*.log")) if root.is_dir() else []:
        marks: dict[str, float] = {}
        for match in MARK.finditer(path.read_text(errors="replace")):
            marks[match["what"]] = float(match["s"])
        if "ready" in marks:
            rows.append(
                {
                    "rule": path.relative_to(root).parts[0].removesuffix(".log"),
                    "fixed_seconds": marks["ready"],
                    "loaded_seconds": marks.get("inputs loaded", float("nan")),
                }
            )
    return pd.DataFrame(rows, columns=["rule", "fixed_seconds", "loaded_seconds"])


def fixed_costs(marks: pd.DataFrame) -> pd.DataFrame:
    """Per rule: median fixed cost (s), the job-minutes of all its fixed costs, and the
    median ``inputs loaded`` mark (s)."""
    return marks.groupby("rule").agg(
        fixed_s=("fixed_seconds", "median"),
        fixed_minutes=("fixed_seconds", lambda s: s.sum() / 60),
        loaded_s=("loaded_seconds", "median"),
    )


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


def brief(per: pd.DataFrame, run_dir: str) -> str:
    """One line: the run folder, its jobs and job-minutes, and the rule with the most
    job-minutes (``per``: :func:`summarise`, sorted by time)."""
    total = per["job_minutes"].sum()
    line = f"{run_dir}: {int(per['jobs'].sum())} jobs, {total:.1f} job-minutes"
    return line + f", longest rule {per.index[0]} {per['job_minutes'].iloc[0]:.1f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", default="default", help="the config's run_name (default: default)")
    p.add_argument("--root", type=Path, help="benchmark folder (default: results/<run>/benchmarks)")
    p.add_argument("--logs", type=Path, help="rule log folder (default: beside --root, logs)")
    p.add_argument(
        "--brief", action="store_true", help="one line: run folder, jobs, job-minutes, top rule"
    )
    args = p.parse_args(argv)
    args.root = args.root or Path("results") / args.run / "benchmarks"
    args.logs = args.logs or args.root.parent / "logs"
    if not args.root.is_dir():
        raise SystemExit(f"pipeline_time: {args.root} does not exist; run the pipeline first")
    per = summarise(collect(args.root))
    if args.brief:
        print(brief(per, f"{args.root.parent}/"))
        return 0
    marks = collect_marks(args.logs)
    per = per.join(fixed_costs(marks))
    table = per.reset_index().rename(
        columns={"job_minutes": "job-min", "cpu_minutes": "cpu-min", "fixed_minutes": "fixed-min"}
    )
    table["share"] = (100 * table["share"]).map("{:.0f} %".format)
    for col in ("job-min", "cpu-min", "fixed-min"):
        table[col] = table[col].map("{:.1f}".format)
    for col in ("fixed_s", "loaded_s"):
        table[col] = table[col].map("{:.2f}".format)
    table["max_rss_mb"] = table["max_rss_mb"].map("{:.0f}".format)
    print(table.to_string(index=False).replace(" nan", "   -"))
    total = per["job_minutes"].sum()
    print(f"# total: {int(per['jobs'].sum())} jobs, {total:.1f} job-minutes")
    if len(marks):
        fixed = marks["fixed_seconds"]
        print(
            f"# fixed cost: median {fixed.median():.2f} s per job over {len(fixed)} jobs, "
            f"{fixed.sum() / 60:.1f} job-minutes ({fixed.sum() / 60 / total:.0%} of the total)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
