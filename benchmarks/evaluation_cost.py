"""Cost of precision/recall per ``evaluate_samples`` job: recomputed reference radii
(torch-fidelity, the whole train split as reference) vs radii stored once per data set
with a fixed-size reference batch (``evaluation.reference_size``).

Times both routes at small sizes on this machine, in the same process, checks that they
give the same numbers, fits seconds per pairwise distance (D dims) and extrapolates to the
paper's setting (50K samples per set; reference 1.28M train images before, 50K after).
The extrapolation counts distances only (the dominant term) and says so.

    .venv/bin/python benchmarks/evaluation_cost.py --dim 2048 --samples 1000 --reference 4000
"""

from __future__ import annotations

import argparse
import time

import torch
from torch_fidelity.metric_prc import prc_features_to_metric

from navref.metrics.prc import knn_radii, precision_recall


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def distances_old(n1: int, n2: int) -> float:
    """Pairwise distances torch-fidelity computes per job (radii of both sets, both crosses)."""
    return n1 * n1 + n2 * n2 + 2 * n1 * n2


def distances_new(n1: int, n2: int) -> float:
    """Per job with stored reference radii: sample radii and both crosses."""
    return n1 * n1 + 2 * n1 * n2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--reference", type=int, default=4000)
    p.add_argument("--paper-samples", type=int, default=50_000)
    p.add_argument("--paper-train", type=int, default=1_281_167)
    p.add_argument("--paper-reference", type=int, default=50_000)
    args = p.parse_args()
    g = torch.Generator().manual_seed(0)
    n1, n2, d = args.samples, args.reference, args.dim
    a, b = torch.randn(n1, d, generator=g), torch.randn(n2, d, generator=g)
    kw = dict(prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=True, verbose=False)
    old, t_old = _timed(lambda: prc_features_to_metric(a, b, **kw))
    radii, t_radii = _timed(lambda: knn_radii(b, 3))
    new, t_new = _timed(lambda: precision_recall(a, b, radii, 3))
    assert old == new, (old, new)
    per_dist = t_old / distances_old(n1, n2)
    print(f"measured: {n1} samples vs {n2} reference, D = {d}")
    print(f"  torch-fidelity (radii recomputed): {t_old:.2f} s")
    print(f"  stored radii: {t_new:.2f} s per job (+ {t_radii:.2f} s once per data set)")
    print(
        f"  ratio: {t_old / t_new:.2f}x (distance count predicts "
        f"{distances_old(n1, n2) / distances_new(n1, n2):.2f}x); same numbers: {old}"
    )
    print(f"  {per_dist * 1e9:.2f} ns per distance on this machine")
    ps, pt, pr = args.paper_samples, args.paper_train, args.paper_reference
    before, after = distances_old(ps, pt), distances_new(ps, pr)
    print(
        f"paper scale (ESTIMATE: distances x this machine's rate; a GPU is far faster, "
        f"the ratio is what carries over): {ps} samples per set"
    )
    print(
        f"  before: reference = {pt} train images: {before:.3g} distances, "
        f"{before * per_dist / 3600:.1f} CPU-hours per job"
    )
    print(
        f"  after:  reference = {pr} images, radii stored: {after:.3g} distances, "
        f"{after * per_dist / 3600:.2f} CPU-hours per job "
        f"(+ {pr * pr * per_dist / 3600:.2f} once per data set)"
    )
    print(f"  ratio: {before / after:.0f}x fewer distances per job")


if __name__ == "__main__":
    main()
