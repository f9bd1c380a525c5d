"""Compare two finished runs of the pipeline file by file: which outputs are byte-identical,
which differ only in metadata, which differ in content.

Used to check that a refactor changed no number: run the default pipeline at the old and
the new commit (two clones), then

    .venv/bin/python benchmarks/compare_runs.py OLD/results/default NEW/results/default

Tables, claims, samples, metrics, probe and oracle outputs, latents and final trained
weights are compared; training logs (wall-clock columns), checkpoints (RNG seeds), logs,
benchmarks, figures and reports are not. Prints one line per group and
every differing file; exits 1 when a compared file differs or is missing.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
from pathlib import Path

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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    args = p.parse_args()
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
