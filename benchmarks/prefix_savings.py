"""Forward passes of the generation sweeps with and without shared trajectory prefixes.

Counts, per sweep of each config, the network forward passes of its sample jobs: Euler steps
x batch rows, a step with classifier-free guidance counting 2 (its conditional and
unconditional halves run as one 2B-row forward), x samples x seeds. Without sharing every
job integrates from t = 0; with sharing a setting with a parent (navref.sweeps
``Sweep.branches``) integrates only from its branch step. Also counts the state sets the
parents store (each: num_samples x the latent size, float32). Reads the configs only (no
sampling); the counts are exact for the workflow's DAG.

    .venv/bin/python benchmarks/prefix_savings.py [config.yaml configs/paper.yaml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

from navref.sweeps import plan

REPO = Path(__file__).resolve().parents[1]


def passes_per_row(segments: list[plan.Segment], first: int = 0) -> int:
    """Forward passes per sample of the Euler steps ``first`` .. end of one trajectory
    (a guided step, velocity ``("cfg", ...)``, counts 2)."""
    return sum(
        2 if seg.velocity[0] == "cfg" else 1
        for seg in segments
        for k in range(max(seg.start, first), seg.stop)
    )


def sweep_counts(sweep: plan.Sweep, rows: int) -> dict[str, int]:
    """Forward passes of one sweep without and with sharing, and the stored state sets,
    for ``rows`` samples per setting (num_samples x seeds)."""
    settings, branches = sweep.settings(), sweep.branches()
    before = after = 0
    for key, setting in settings.items():
        segments = sweep.segments(setting)
        before += passes_per_row(segments) * rows
        first = branches[key].step if branches[key] else 0
        after += passes_per_row(segments, first) * rows
    stored = sum(len(sweep.branch_steps(key)) for key in settings)
    return {"settings": len(settings), "before": before, "after": after, "stored": stored}


def report(path: Path) -> None:
    config = yaml.safe_load(path.read_text())
    validate(config, str(REPO / "schemas" / "config.schema.yaml"))  # fills the defaults
    conf = config["sweeps"]
    rows = int(conf["num_samples"]) * len(conf["seeds"])
    print(f"\n{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
          f"{conf['num_samples']} samples x {len(conf['seeds'])} seeds per setting")  # fmt: skip
    print(f"{'sweep':<16}{'settings':>9}{'passes, from noise':>20}{'shared prefixes':>17}"
          f"{'saved':>8}{'stored state sets':>19}")  # fmt: skip
    total = {"before": 0, "after": 0}
    for kind in plan.kinds():
        c = sweep_counts(plan.get(kind, conf), rows)
        if not c["settings"]:
            continue
        total["before"] += c["before"]
        total["after"] += c["after"]
        saved = 1 - c["after"] / c["before"]
        print(f"{kind:<16}{c['settings']:>9}{c['before']:>20,}{c['after']:>17,}{saved:>8.1%}"
              f"{c['stored'] * len(conf['seeds']):>19}")  # fmt: skip
    saved = 1 - total["after"] / total["before"]
    print(f"{'all sweeps':<16}{'':>9}{total['before']:>20,}{total['after']:>17,}{saved:>8.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path,
                        default=[REPO / "config.yaml", REPO / "configs" / "paper.yaml"])  # fmt: skip
    args = parser.parse_args()
    for path in args.configs:
        report(path.resolve())
    print("\nstored state set: num_samples x latent size float32, e.g. 50K x 32x16x16 = 1.6 GB")


if __name__ == "__main__":
    sys.exit(main())
