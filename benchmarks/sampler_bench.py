"""Overhead of the Euler sampler (navref.sampling) over bare model forward passes.

For one DiT (navref.models.dit) and one batch, times

- ``bare``:    ``steps`` forward passes model(x, t, y) in a plain loop (no state update),
- ``sampler``: ``sample(ModelVelocity(model, mode), uniform_grid(steps), noise, y)``,

with the same number of forwards and batch (for ``--mode cfg`` both use the doubled batch:
guidance on every step, one forward of 2B per step). Prints images/s of both and the
sampler's overhead in % (target < 10 %), plus the cost of drawing the per-sample noise.

    .venv/bin/python benchmarks/sampler_bench.py --size small --batch 64 --steps 50
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from navref.models.dit import DiTConfig, build_model
from navref.sampling import ModelVelocity, make_noise, sample, uniform_grid


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_pair(fa, fb, device: torch.device, repeats: int) -> tuple[list[float], list[float]]:
    """Alternate a and b (after one warm-up each) so that load drift hits both alike."""
    ta, tb = [], []
    for f in (fa, fb):
        f()
    _sync(device)
    for _ in range(repeats):
        for f, out in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            f()
            _sync(device)
            out.append(time.perf_counter() - t0)
    return ta, tb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", default="small", help="DiT size name (navref.models.dit.DIT_SIZES)")
    ap.add_argument("--input-size", type=int, default=8)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--patch-size", type=int, default=1)
    ap.add_argument("--num-classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--mode", choices=["cond", "cfg"], default="cond")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave as is)")
    args = ap.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg = DiTConfig.from_size(
        args.size,
        input_size=args.input_size,
        in_channels=args.channels,
        num_classes=args.num_classes,
        patch_size=args.patch_size,
    )
    model = build_model(cfg).to(device).eval()
    with torch.no_grad():  # non-zero head so the state actually moves
        for p in model.final_layer.parameters():
            p.normal_(0, 0.02)

    shape = (args.batch, args.channels, args.input_size, args.input_size)
    t0 = time.perf_counter()
    noise = make_noise(shape, seed=0, device=device)
    noise_s = time.perf_counter() - t0
    y = torch.arange(args.batch, device=device) % args.num_classes
    grid = uniform_grid(args.steps)
    times = grid[:-1].tolist()
    provider = ModelVelocity(model, args.num_classes, mode=args.mode, cfg_scale=2.0)

    if args.mode == "cfg":
        xb = torch.cat([noise, noise])
        yb = torch.cat([y, torch.full_like(y, args.num_classes)])
    else:
        xb, yb = noise, y

    @torch.inference_mode()
    def bare() -> None:
        for t in times:
            model(xb, torch.full((xb.shape[0],), t, device=device), yb)

    def sampler() -> None:
        sample(provider, grid, noise, y)

    tb, ts = _time_pair(bare, sampler, device, args.repeats)
    t_bare, t_samp = statistics.median(tb), statistics.median(ts)
    over = 100.0 * (t_samp - t_bare) / t_bare
    pair = statistics.median(100.0 * (s - b) / b for b, s in zip(tb, ts, strict=True))
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"device={device} threads={torch.get_num_threads()} DiT-{args.size} "
        f"({n_params / 1e6:.2f}M params) latent={shape[1:]} batch={args.batch} "
        f"steps={args.steps} mode={args.mode}"
    )
    print(f"bare forwards : {t_bare:8.3f} s  {args.batch / t_bare:10.1f} images/s")
    print(f"euler sampler : {t_samp:8.3f} s  {args.batch / t_samp:10.1f} images/s")
    print(
        f"overhead      : {over:+.2f} % of medians, {pair:+.2f} % median per pair (target < 10 %)"
    )
    # the sampler's own cost per step, measured with a model that does (almost) nothing
    noop = ModelVelocity(lambda x, t, y: x, args.num_classes, mode=args.mode, cfg_scale=2.0)
    t_noop = min(_time_pair(lambda: sample(noop, grid, noise, y), lambda: None, device, 3)[0])
    print(
        f"sampler only  : {t_noop / args.steps * 1e6:8.1f} us per step with a no-op model "
        f"({100.0 * t_noop / t_bare:.2f} % of the bare forwards)"
    )
    print(f"make_noise    : {noise_s * 1e3:8.2f} ms for {args.batch} per-sample-seeded draws")


if __name__ == "__main__":
    main()
