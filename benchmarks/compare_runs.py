"""Compare two finished runs of the pipeline file by file: which outputs are byte-identical,
which differ only in metadata, which differ in content.

Used to check that a refactor changed no number: run the default pipeline at the old and
the new commit (two clones), then

    .venv/bin/python benchmarks/compare_runs.py OLD/results/default NEW/results/default

Tables, claims, samples, metrics, probe and oracle outputs, latents and final trained
weights are compared; training logs (wall-clock columns), checkpoints (RNG seeds), logs,
benchmarks, figures and reports are not. Prints one line per group and
every differing file; exits 1 when a compared file differs or is missing.

``--paired``: for two runs that differ only in how the samples were computed
(``sweeps.precision``, ``sweeps.batch_size``, the device), so that their sample sets are
not byte-identical, whether every FID is the same within its paired interval and every
claim's verdict the same. Sample i of a setting and seed starts from the same noise in both
runs, and the evaluation resamples each seed's set with indices that depend only on (sample
count, replicate, seed) (:func:`navref.metrics.bootstrap.bootstrap_indices`), so replicate r
of NEW minus replicate r of OLD is one bootstrap draw of FID(NEW) - FID(OLD): judged as the
tables judge two settings (:func:`navref.sweeps.paired.bootstrap_difference`, centred 95 %,
means over the shared seeds). Prints per sweep setting both FIDs, NEW - OLD with its interval
and whether the interval holds 0, then how many settings moved beyond their interval and the
claims whose verdict differs; then, per table of paired differences (Tab. 1-3), whether
each of NEW's differences lies inside OLD's interval and the largest shift over OLD's
half-width. First it checks that everything upstream of sampling (trained weights,
checkpoints but their RNG state, VAE, feature net, reference statistics) is bitwise equal,
and names what is not.
Exit 0 (a report, not a gate: at 95 %, one setting in twenty may fall outside by chance).

    .venv/bin/python benchmarks/compare_runs.py --paired OLD/results/default NEW/results/default
"""

from __future__ import annotations

import argparse
import filecmp
import json
import sys
from pathlib import Path

import pandas as pd
import torch

from navref.sweeps.paired import bootstrap_difference

GROUPS = ("tables", "claims", "samples", "metrics", "probes", "oracle", "latents", "data", "models")
SUFFIXES = (".parquet", ".md", ".tex", ".npz", ".npy")


def compared_files(root: Path) -> list[Path]:
    """Output files of ``root`` (a ``results/<run_name>`` folder) that hold numbers."""
    return sorted(
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file()
        and (p.suffix in SUFFIXES or p.name == "model.safetensors")  # trained weights only
        and p.relative_to(root).parts[0].split(".")[0] in GROUPS
        and "train_log" not in p.name  # wall-clock columns
    )


def _same_tensors(pa: Path, pb: Path) -> bool:
    """Whether two safetensors files hold the same tensors, bitwise, apart from the RNG state
    a training checkpoint records at save time (keys ``rng.*``: no output depends on it)."""
    from safetensors.torch import load_file

    ta, tb = load_file(str(pa)), load_file(str(pb))
    keys = {k for k in ta.keys() | tb.keys() if not k.startswith("rng.")}
    return all(k in ta and k in tb and torch.equal(ta[k], tb[k]) for k in keys)


def upstream_differences(a: Path, b: Path) -> list[str]:
    """Relative paths of weights / statistics (safetensors: models, checkpoints, VAE, feature
    net, reference statistics) whose tensors differ between the runs, and of those present in
    one run only."""
    rel = {p.relative_to(a) for p in a.glob("**/*.safetensors") if "states" not in p.parts}
    rel |= {p.relative_to(b) for p in b.glob("**/*.safetensors") if "states" not in p.parts}
    out = []
    for r in sorted(rel):
        pa, pb = a / r, b / r
        if not (pa.exists() and pb.exists()):
            out.append(f"{r} (only in {'A' if pa.exists() else 'B'})")
        elif not _same_tensors(pa, pb):
            out.append(str(r))
    return out


def table_shifts(a: Path, b: Path) -> pd.DataFrame:
    """Per table with paired differences (``tables/*.parquet`` with ``fid_diff``, ``_low``,
    ``_high``): rows with an interval in run A, how many of B's ``fid_diff`` lie inside A's
    interval, and the largest |B - A| shift of ``fid_diff`` over A's half-width."""
    rows = []
    for pa in sorted((a / "tables").glob("*.parquet")):
        pb = b / "tables" / pa.name
        ta = pd.read_parquet(pa)
        if not pb.exists() or "fid_diff" not in ta.columns:
            continue
        tb = pd.read_parquet(pb)
        has = ta["fid_diff_low"].notna() & ta["fid_diff_high"].notna()
        lo, hi, new = ta["fid_diff_low"][has], ta["fid_diff_high"][has], tb["fid_diff"][has]
        half = (hi - lo) / 2
        rows.append({
            "table": pa.stem, "rows": int(has.sum()),
            "inside": int(((new >= lo) & (new <= hi)).sum()),
            "max_shift": float((new - ta["fid_diff"][has]).abs().max()),
            "max_shift_over_half_width": float(((new - ta["fid_diff"][has]).abs() / half).max()),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _setting_files(run: Path) -> dict[tuple[str, str], Path]:
    return {
        (p.parent.name, p.stem): p
        for p in sorted((run / "metrics").glob("*/*.parquet"))
        if not p.stem.endswith("_bootstrap")
    }


def fid_differences(a: Path, b: Path) -> pd.DataFrame:
    """One row per (sweep, setting) evaluated in both runs: ``fid_a``, ``fid_b`` (means over
    the shared seeds), ``diff`` = B - A, ``low``, ``high``, ``seeds``, ``replicates`` and
    ``within`` (the interval holds 0)."""
    files_a, files_b = _setting_files(a), _setting_files(b)
    rows = []
    for key in sorted(files_a.keys() & files_b.keys()):
        point, reps = [], []
        for f in (files_a[key], files_b[key]):
            frame = pd.read_parquet(f)
            point.append(pd.Series(frame["fid"].to_numpy(float), index=frame["seed"].to_numpy()))
            rep = pd.read_parquet(f.with_name(f"{f.stem}_bootstrap.parquet"))
            reps.append(rep.pivot(index="seed", columns="replicate", values="fid"))
        d = bootstrap_difference(reps[1], reps[0], point[1], point[0])
        rows.append({
            "sweep": key[0], "setting": key[1], "fid_a": float(point[0].mean()),
            "fid_b": float(point[1].mean()), "diff": d.mean, "low": d.low, "high": d.high,
            "seeds": d.n, "replicates": d.replicates, "within": bool(d.low <= 0 <= d.high),
        })  # fmt: skip
    return pd.DataFrame(rows)


def verdict_changes(a: Path, b: Path) -> pd.DataFrame:
    """Claims whose verdict differs between the runs' ``claims.parquet``."""
    ca, cb = (pd.read_parquet(r / "claims.parquet")[["claim_id", "verdict"]] for r in (a, b))
    both = ca.merge(cb, on="claim_id", how="outer", suffixes=("_a", "_b"))
    return both[both["verdict_a"] != both["verdict_b"]].set_index("claim_id")


def paired_report(old: Path, new: Path) -> None:
    """Print the ``--paired`` comparison (module docstring) of runs ``old`` and ``new``."""
    upstream = upstream_differences(old, new)
    print(
        "upstream weights and statistics: "
        + ("bitwise equal" if not upstream else f"DIFFER ({', '.join(upstream)})")
    )
    table = fid_differences(old, new).rename(columns={"fid_a": "fid_old", "fid_b": "fid_new"})
    if table.empty:
        raise SystemExit("compare_runs: no sample set was evaluated in both runs")
    with pd.option_context("display.width", 160, "display.max_rows", None):
        print(table.round(3).to_string(index=False))
    moved = table[~table["within"]]
    print(
        f"# {len(table)} settings; FID(new) - FID(old) outside its 95 % paired interval: "
        f"{len(moved)}; |new - old| mean {table['diff'].abs().mean():.3f}, max "
        f"{table['diff'].abs().max():.3f}; interval half-width median "
        f"{((table['high'] - table['low']) / 2).median():.3f}"
    )
    shifts = table_shifts(old, new)
    for r in shifts.itertuples():
        print(
            f"# {r.table}: new paired difference inside the old interval in {r.inside} of "
            f"{r.rows} rows; largest shift {r.max_shift:.3f} = "
            f"{r.max_shift_over_half_width:.2f} x the old half-width"
        )
    changes = verdict_changes(old, new)
    print(f"# claims with another verdict: {len(changes)}")
    if len(changes):
        print(changes.rename(columns={"verdict_a": "old", "verdict_b": "new"}).to_string())


def print_provenance(old: Path, new: Path) -> None:
    """Both runs' provenance (``provenance.json``): the CPU models, torch versions, thread
    counts and GPUs their jobs logged, their code and config digest; and a note when the
    machines or libraries differ (byte-identity is then not expected, only agreement within
    the intervals: ``--paired``) or the configs do."""
    seen = {}
    for name, root in (("OLD", old), ("NEW", new)):
        path = root / "provenance.json"
        if not path.is_file():
            print(f"{name}: no provenance.json (a run before provenance was recorded)")
            continue
        rec = json.loads(path.read_text())
        jobs = [j for j in rec.get("jobs_by_machine", []) if not j.get("unrecorded")]
        facts = {
            "CPU": sorted({j["cpu_model"] for j in jobs}),
            "torch": sorted({j["torch"] for j in jobs if "torch" in j}),
            "threads": sorted({int(j["torch_threads"]) for j in jobs if "torch_threads" in j}),
            "GPUs": sorted({g for j in jobs for g in j.get("gpus", [])}),
        }
        seen[name] = (facts, rec["config_sha256"])
        told = "; ".join(f"{k} {', '.join(map(str, v)) or '-'}" for k, v in facts.items())
        print(f"{name}: {told}; code {rec['code']}; config {rec['config_sha256'][:12]}")
    if len(seen) == 2:
        differ = [k for k in seen["OLD"][0] if seen["OLD"][0][k] != seen["NEW"][0][k]]
        if differ:
            print(f"note: the runs differ in {', '.join(differ)}: fp32 results are bitwise equal "
                  "only on the same CPU model, threads and libraries; use --paired")  # fmt: skip
        if seen["OLD"][1] != seen["NEW"][1]:
            print("note: the runs' resolved configs differ (config_sha256): outputs may differ "
                  "by design")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--paired", action="store_true", help="FIDs within their paired intervals")
    args = p.parse_args()
    print_provenance(args.old, args.new)
    if args.paired:
        paired_report(args.old, args.new)
        return 0
    files = compared_files(args.old)
    bad = []
    for group in GROUPS:
        mine = [f for f in files if f.parts[0].split(".")[0] == group]
        diff = [f for f in mine if not (args.new / f).is_file()
                or not filecmp.cmp(args.old / f, args.new / f, shallow=False)]  # fmt: skip
        bad += diff
        print(f"{group:8s} {len(mine) - len(diff):5d} identical, {len(diff)} differ")
    for f in bad:
        print(f"  differs or missing: {f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
