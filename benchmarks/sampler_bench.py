"""The Euler sampler (navref.sampling) of one sweep setting at the CPU's speed (issue 17).

For one setting of a config's sweeps (``--setting SWEEP/SETTING``, default the default
config's ``timestep_shift/s1``: model ``small``, uniform 50-step grid) with its models built
from the config's architectures (random weights: the cost does not depend on them) and one
batch of the sweep's size (``sweeps.batch_size`` capped at ``num_samples``), times

- ``sampler``: ``sample(sweep.velocity(setting), sweep.grid(setting), noise, y)`` under
  ``torch.no_grad`` as ``navref.sweeps.sample_set`` runs it (decoding excluded),
- ``bare``:    the same forward calls (model, batch size, recorded from one sampler run: a
  guided step is one forward of 2B) in a plain loop, no state update, no guidance algebra,
- ``matmul``:  ``torch.mm`` of (tokens x hidden) @ (hidden x 4 hidden), tokens = batch x
  tokens per image of the largest model: the FLOP rate a dense matmul of the model's size
  reaches in this process,

and prints images/s of sampler and bare forwards, the sampler's overhead (target < 10 %),
the FLOPs of one forward counted from the architecture (:func:`forward_flops`: matmuls,
convolution and attention, 2 FLOPs per multiply-add), the GFLOP/s the sampler reaches and
its ratio to the matmul's ("matmul-bound ratio": 1 = the sampler runs at the speed of a bare
matmul of its width). ``--precision bf16`` runs all three under bf16 autocast
(:mod:`navref.precision`); the last line times the sampler in the other precision,
alternated with this one, and prints images/s bf16 / fp32. Pairs are alternated so that load drift hits both alike; no timed
asserts, only ratios measured in the same process.

    nice .venv/bin/python benchmarks/sampler_bench.py --threads 1
    nice .venv/bin/python benchmarks/sampler_bench.py --setting cfg_interval/0.1-0.2

``--scan-batches 32,64,128`` then samples the sweep's whole set (``num_samples`` images) in
chunks of each of these batch sizes, alternated with chunks of the baseline batch (``--batch``,
default the sweep's), and prints images/s, the ratio to the baseline and whether the images
are bitwise those of the baseline (each image depends only on its own noise and label, so a
CPU batch size is a speed choice only: a smaller batch keeps a step's activations in cache).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

from navref.config_relations import latent_side
from navref.models.dit import DiTConfig, build_model
from navref.precision import autocast
from navref.sampling import ModelVelocity, make_noise, sample, uniform_grid
from navref.sweeps import get as get_sweep

REPO = Path(__file__).resolve().parents[1]


def forward_flops(conf: DiTConfig, batch: int) -> int:
    """FLOPs of one DiT forward on ``batch`` images (2 per multiply-add of every matmul,
    the patch-embedding convolution and attention's two batched products; elementwise ops,
    norms and embeddings lookups not counted, as ``torch.utils.flop_counter`` counts).
    T = (input_size / patch_size)^2 tokens of width D, H = ``conf.mlp_hidden``.

    Per image: patch embedding T C p^2 D; timestep MLP freq_dim D + D^2; per block adaLN
    D 6D, qkv T D 3D, scores and values 2 T^2 D, projection T D^2, MLP 3 T D H (SwiGLU:
    w12 D -> 2H, w3 H -> D) or 2 T D H (GELU); final adaLN D 2D and linear T D p^2 C_out."""
    d, p, c = conf.hidden_size, conf.patch_size, conf.in_channels
    tokens = (conf.input_size // p) ** 2
    mlp = (3 if conf.mlp == "swiglu" else 2) * tokens * d * conf.mlp_hidden
    block = 6 * d * d + 3 * tokens * d * d + 2 * tokens * tokens * d + tokens * d * d + mlp
    macs = tokens * c * p * p * d + conf.freq_dim * d + d * d + conf.depth * block
    macs += 2 * d * d + tokens * d * p * p * conf.out_channels
    return 2 * batch * macs


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


def _space_shape(conf: dict, space: str, channels: int | None) -> tuple[int, int, int]:
    """(C, H, W) of a latent space of the config: H = W from the config, C the VAE's
    ``latent_channels`` (4 by default) or 1 for a pixel space of grey images."""
    side = latent_side(conf, space)
    if side is None:
        raise SystemExit(f"latent space {space}: its side is not fixed by the config")
    sp = conf["latent_spaces"][space]
    if channels is None:
        channels = conf["vaes"][sp["vae"]].get("latent_channels", 4) if sp.get("vae") else 1
    return channels, side, side


def _models(conf: dict, names: list[str], shape, num_classes: int, device) -> dict:
    """Randomly initialised DiTs of the config's architectures, output heads non-zero so the
    state moves."""
    out = {}
    for name in names:
        arch = dict(conf["models"][name]["arch"])
        dit = DiTConfig.from_dict(
            {**arch, "input_size": shape[1], "in_channels": shape[0], "num_classes": num_classes}
        )
        model = build_model(dit).to(device).eval()
        with torch.no_grad():
            for p in model.final_layer.parameters():
                p.normal_(0, 0.02)
        out[name] = model
    return out


def _record_calls(models: dict, run: Callable[[], None]) -> list[tuple[str, int, float]]:
    """(model name, batch size, t) of every forward ``run`` makes, in order."""
    calls: list[tuple[str, int, float]] = []

    def hook(name: str) -> Callable:
        def record(_module, args) -> None:
            x, t = args[0], torch.as_tensor(args[1]).reshape(-1)
            calls.append((name, x.shape[0], float(t[0])))

        return record

    hooks = [m.register_forward_pre_hook(hook(n)) for n, m in models.items()]
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return calls


def _matmul_rate(tokens: int, width: int, device, precision: str, repeats: int) -> float:
    """GFLOP/s of (tokens x width) @ (width x 4 width), median of ``repeats``."""
    a = torch.randn(tokens, width, device=device)
    b = torch.randn(width, 4 * width, device=device)
    n = max(1, int(2e8 // (2 * tokens * width * 4 * width)))  # about 0.2 GFLOP per timing

    def run() -> None:
        with torch.no_grad(), autocast(device, precision):
            for _ in range(n):
                torch.mm(a, b)

    times = _time_pair(run, lambda: None, device, repeats)[0]
    return n * 2 * tokens * width * 4 * width / statistics.median(times) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO / "config.yaml")
    ap.add_argument("--setting", default="timestep_shift/s1", help="SWEEP/SETTING of the config")
    ap.add_argument("--batch", type=int, default=None, help="default: the sweep's batch")
    ap.add_argument("--channels", type=int, default=None, help="latent channels (see above)")
    ap.add_argument("--num-classes", type=int, default=10)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave as is)")
    ap.add_argument("--scan-batches", default="", help="comma-separated batch sizes (see above)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)

    conf = yaml.safe_load(args.config.read_text())
    kind, key = args.setting.split("/", 1)
    sweep = get_sweep(kind, conf["sweeps"])
    settings = sweep.settings()
    if key not in settings:
        raise SystemExit(f"{kind} has no setting {key!r}; it has {sorted(settings)}")
    setting = dict(settings[key])
    if kind == "stage_swap" and str(setting["tau"]).startswith("s"):
        setting["tau"] = 0.5  # a split-relative tau needs a run's split time; the cost is alike
    names = sweep.models(setting)
    space = conf["models"][names[0]]["space"]
    shape = _space_shape(conf, space, args.channels)
    sw = conf["sweeps"]
    batch = args.batch or min(sw.get("batch_size", 500), sw.get("num_samples", 500))
    models = _models(conf, names, shape, args.num_classes, device)
    provider = sweep.velocity(setting, models, args.num_classes)
    grid = sweep.grid(setting).to(device)
    noise = make_noise((batch, *shape), seed=0, device=device)
    y = torch.arange(batch, device=device) % args.num_classes

    def sampler() -> None:
        with torch.no_grad(), autocast(device, args.precision):
            sample(provider, grid, noise, y)

    calls = _record_calls(models, sampler)
    big = max(b for _, b, _ in calls)
    xs = torch.randn(big, *shape, device=device)
    ys = torch.cat([y, torch.full((big - batch,), args.num_classes, device=device)])
    ts = [torch.full((b,), t, device=device) for _, b, t in calls]

    def bare() -> None:
        with torch.no_grad(), autocast(device, args.precision):
            for (name, b, _), t in zip(calls, ts, strict=True):
                models[name](xs[:b], t, ys[:b])

    tb, tsamp = _time_pair(bare, sampler, device, args.repeats)
    t_bare, t_samp = statistics.median(tb), statistics.median(tsamp)
    pair = statistics.median(100.0 * (s - b) / b for b, s in zip(tb, tsamp, strict=True))
    flops = sum(forward_flops(models[n].conf, b) for n, b, _ in calls)
    width = max(m.conf.hidden_size for m in models.values())
    tokens = batch * max((m.conf.input_size // m.conf.patch_size) ** 2 for m in models.values())
    mm = _matmul_rate(tokens, width, device, args.precision, args.repeats)
    sizes = ", ".join(f"{n}: {conf['models'][n]['arch']}" for n in names)
    print(
        f"device={device} threads={torch.get_num_threads()} precision={args.precision} "
        f"setting={args.setting} models {sizes} latent={shape} batch={batch} "
        f"forwards={len(calls)} (images {sum(b for _, b, _ in calls)})"
    )
    print(f"euler sampler : {t_samp:8.3f} s  {batch / t_samp:10.1f} images/s")
    print(f"bare forwards : {t_bare:8.3f} s  {batch / t_bare:10.1f} images/s")
    print(
        f"overhead      : {100.0 * (t_samp - t_bare) / t_bare:+.2f} % of medians, {pair:+.2f} % "
        "median per pair (target < 10 %)"
    )
    print(
        f"FLOPs         : {flops / 1e9:8.3f} GFLOP per batch ({flops / batch / 1e6:.1f} MFLOP per "
        f"image, all steps); sampler {flops / t_samp / 1e9:.2f} GFLOP/s, bare {flops / t_bare / 1e9:.2f} "
        "GFLOP/s"
    )
    print(
        f"matmul        : ({tokens} x {width}) @ ({width} x {4 * width}) {mm:.2f} GFLOP/s; "
        f"matmul-bound ratio sampler {flops / t_samp / 1e9 / mm:.3f}, bare "
        f"{flops / t_bare / 1e9 / mm:.3f}"
    )
    noop = ModelVelocity(lambda x, t, y: x, args.num_classes, mode="cond")
    unif = uniform_grid(len(grid) - 1)
    t_noop = min(_time_pair(lambda: sample(noop, unif, noise, y), lambda: None, device, 3)[0])
    print(
        f"sampler only  : {t_noop / (len(grid) - 1) * 1e6:8.1f} us per step with a no-op model "
        f"({100.0 * t_noop / t_bare:.2f} % of the bare forwards)"
    )
    other = "bf16" if args.precision == "fp32" else "fp32"

    def sampler_other() -> None:
        with torch.no_grad(), autocast(device, other):
            sample(provider, grid, noise, y)

    t_this, t_other = (statistics.median(t) for t in _time_pair(sampler, sampler_other, device,
                                                                args.repeats))  # fmt: skip
    print(
        f"{other} sampler  : {t_other:8.3f} s  {batch / t_other:10.1f} images/s; images/s bf16 / "
        f"fp32 {(t_other / t_this) ** (1 if other == 'fp32' else -1):.3f} (alternated)"
    )
    if args.scan_batches:
        n = int(sw.get("num_samples", batch))
        scan = [int(b) for b in args.scan_batches.split(",")]
        scan_batches(provider, grid, shape, n, batch, scan, args, device)


def scan_batches(provider, grid, shape, n: int, base: int, scan: list[int], args, device) -> None:
    """Images/s of sampling ``n`` images in chunks of each batch in ``scan`` against chunks of
    ``base`` (alternated), and whether the images are bitwise the baseline's."""
    noise = make_noise((n, *shape), seed=0, device=device)
    y = torch.arange(n, device=device) % args.num_classes

    def chunked(b: int) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            with torch.no_grad(), autocast(device, args.precision):
                return torch.cat([sample(provider, grid, noise[i : i + b], y[i : i + b])
                                  for i in range(0, n, b)])  # fmt: skip

        return run

    reference = chunked(base)()
    print(f"batch scan    : {n} images, baseline batch {base} ({args.precision})")
    for b in scan:
        t_base, t_b = (statistics.median(t) for t in _time_pair(chunked(base), chunked(b), device,
                                                                 args.repeats))  # fmt: skip
        same = torch.equal(chunked(b)(), reference)
        print(
            f"  batch {b:5d} : {n / t_b:8.1f} images/s, {t_base / t_b:.3f} x batch {base}; "
            f"images bitwise equal: {same}"
        )


if __name__ == "__main__":
    main()
