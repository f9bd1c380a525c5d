"""Two finished runs of one experiment that differ only in how the samples were computed
(``sweeps.precision``, ``sweeps.batch_size``, the device): is every FID the same within its
paired interval, and is every claim's verdict the same?

Sample i of a setting and seed starts from the same noise in both runs, and the evaluation
resamples each seed's set with indices that depend only on (sample count, replicate, seed)
(:func:`navref.metrics.bootstrap.bootstrap_indices`), so replicate r of run B minus
replicate r of run A is one bootstrap draw of FID(B) - FID(A) for that setting: the
difference is judged as the tables judge two settings
(:func:`navref.report.paired.bootstrap_difference`, centred 95 %, means over the shared
seeds). Printed per sweep setting: FID of A and B (mean over seeds), B - A with its interval
and whether the interval holds 0; then how many settings moved beyond their interval, and
the claims whose verdict differs.

The comparison only means something when everything upstream of sampling is the same: the
script first checks that the runs' trained weights (models, VAE, feature net) and reference
statistics are bitwise equal (sha256), and says which are not.

    .venv/bin/python benchmarks/run_diff.py results/default /path/to/other/results/default
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pandas as pd

from navref.report.paired import bootstrap_difference


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upstream_differences(a: Path, b: Path) -> list[str]:
    """Relative paths of weights / statistics present in both runs whose bytes differ, and
    of those present in one run only."""
    rel = {p.relative_to(a) for p in a.glob("**/*.safetensors") if "states" not in p.parts}
    rel |= {p.relative_to(b) for p in b.glob("**/*.safetensors") if "states" not in p.parts}
    out = []
    for r in sorted(rel):
        pa, pb = a / r, b / r
        if not (pa.exists() and pb.exists()):
            out.append(f"{r} (only in {'A' if pa.exists() else 'B'})")
        elif _sha(pa) != _sha(pb):
            out.append(str(r))
    return out


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run_a", type=Path, help="results/<run_name> of run A (the reference)")
    ap.add_argument("run_b", type=Path, help="results/<run_name> of run B")
    args = ap.parse_args()
    a, b = args.run_a, args.run_b
    upstream = upstream_differences(a, b)
    print(f"A = {a}\nB = {b}")
    print(
        "upstream weights and statistics: "
        + ("bitwise equal" if not upstream else f"DIFFER ({', '.join(upstream)})")
    )
    table = fid_differences(a, b)
    if table.empty:
        raise SystemExit("run_diff: no sample set was evaluated in both runs")
    with pd.option_context("display.width", 160, "display.max_rows", None):
        print(table.round(3).to_string(index=False))
    moved = table[~table["within"]]
    print(
        f"# {len(table)} settings; FID(B) - FID(A) outside its 95 % paired interval: "
        f"{len(moved)}; |B - A| mean {table['diff'].abs().mean():.3f}, max "
        f"{table['diff'].abs().max():.3f}; interval half-width median "
        f"{((table['high'] - table['low']) / 2).median():.3f}"
    )
    changes = verdict_changes(a, b)
    print(f"# claims with another verdict: {len(changes)}")
    if len(changes):
        print(changes.to_string())


if __name__ == "__main__":
    main()
