"""Cost of the evaluation's FID bootstrap replicates (issue 24, item 4): seconds per sample
set of :func:`navref.metrics.bootstrap.fid_replicates` at B = 200 and B = 2000 on the default
run's sizes (N = 300 samples per set, d = 128 feature dimensions of the digits feature net).

Usage: ``PYTHONPATH=. python benchmarks/bootstrap_cost.py [reference.safetensors]``; without
a reference file the features are standard normal. Prints one line per B (best of
``REPEATS`` timings) and the extra minutes for ``SETS`` sample sets (the default config's
18 + 7 + 8 settings x 3 seeds).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from navref.metrics.bootstrap import bootstrap_indices, fid_replicates, sqrt_psd

N, REPEATS, SETS = 300, 3, (18 + 7 + 8) * 3


def main(ref_path: str | None) -> None:
    rng = np.random.default_rng(0)
    if ref_path:
        from safetensors.numpy import load_file

        ref = load_file(ref_path)
        feats = ref["features.features"].astype(np.float64)
        mu, sigma = ref["fid.mu"].astype(np.float64), ref["fid.sigma"].astype(np.float64)
        x = feats[rng.choice(len(feats), N, replace=False)]
    else:
        d = 128
        x, mu, sigma = rng.normal(size=(N, d)), np.zeros(d), np.eye(d)
    root = sqrt_psd(sigma)
    per_set = {}
    for b in (200, 2000):
        idx = bootstrap_indices(N, b, seed=0)
        best = np.inf
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            fid_replicates(x, mu, sigma, idx, root)
            best = min(best, time.perf_counter() - t0)
        per_set[b] = best
        print(f"B = {b}: {best:.2f} s per set (N = {N}, d = {x.shape[1]}, best of {REPEATS})")
    extra = (per_set[2000] - per_set[200]) * SETS / 60
    print(f"extra for {SETS} sets (2000 vs 200): {extra:.1f} min of one job's CPU time")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
