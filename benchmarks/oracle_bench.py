"""Speed and memory of the streaming oracle engine (navref.oracle.oracle_velocity).

For B queries (default 256), N in {1e3, 1e4, 1e5} unit-Gaussian data rows, D in {64, 256,
1024, 4096} and each kind of query (``--queries``; default: on the path
x_t = (1 - t) x0 + t x1 from training points x1 at t = 0.2, 0.4, 0.6, 0.8, as sampling,
probes and training query the oracle, and random x ~ N(0, I) at t = 0.5) it prints:

- navref: wall time of ``oracle_velocity(x, t, data)`` (default chunk size) and its
  throughput in GFLOP/s counting the two matrix products, 4 B N D flops;
- subn: subnormal floats met by the engine's operations on the first 16 queries
  (:class:`navref.subnormals.SubnormalScan`; 0 expected): many CPUs (Intel's among them)
  process subnormals with microcode assists, so a non-zero count means a slow path there;
- bare: time of the two bare matrix products of the same shapes, ``x @ data.T`` (B, N) and
  ``w @ data`` with w (B, N), in the same process: the lower bound for any exact method;
- ratio = navref / bare (targets: <= 1.25 for D >= 256, <= 2 for D = 64);
- vs dense = dense / navref, the speed-up over the dense reference (target: > 1);
- dense: a dense reference (torch.cdist over all N, softmax, weights @ data), skipped when
  its (B, N) intermediates would exceed --dense-limit-gb;
- peak memory of navref and dense above the data set. On CPU it is measured in a fresh
  subprocess per cell whose glibc mmap threshold is pinned at 128 KiB (so every large tensor
  is its own mapping and freed memory is returned at once): peak = VmHWM - VmRSS just before
  the call, after resetting VmHWM through /proc/self/clear_refs. On CUDA it is
  torch.cuda.max_memory_allocated minus the memory allocated before the call.

The first line names the machine (CPU model and flags, torch and its CPU kernels): speed
figures hold for that CPU. Times are the minimum over --repeats runs (more for short cells, see best_time) after one
warm-up (robust to other processes on
the machine; the load average is printed). On a shared machine use ``--threads 1 --clock
thread`` (CPU time of the one compute thread: time slices lost to other processes are not
counted, unlike with a multi-threaded wall clock where a descheduled OpenMP thread stalls all).
Usage:

    python benchmarks/oracle_bench.py [--quick] [--device cpu|cuda] [--threads K]
        [--clock wall|thread] [--queries path:0.2,...,random] [--sweep]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from navref.oracle import default_chunk_size, oracle_velocity, single_chunk_fits
from navref.provenance import describe_machine
from navref.subnormals import SubnormalScan

T = 0.5


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLOCK = time.perf_counter  # --clock thread switches to time.thread_time


MIN_SECONDS = 0.5  # short cells repeat until this much time is spent (at most 200 runs)


def best_time(device: torch.device, repeats: int, fn: Callable, *args, **kwargs) -> float:
    """Minimum time over max(repeats, as many runs as fit in MIN_SECONDS) after a warm-up."""
    t0 = CLOCK()
    fn(*args, **kwargs)
    _sync(device)
    first = max(CLOCK() - t0, 1e-6)
    repeats = max(repeats, min(200, int(MIN_SECONDS / first)))
    times = []
    for _ in range(repeats):
        t0 = CLOCK()
        fn(*args, **kwargs)
        _sync(device)
        times.append(CLOCK() - t0)
    return min(times)


def dense_velocity(x: torch.Tensor, t: float, data: torch.Tensor) -> torch.Tensor:
    """Dense reference: all N squared distances at once (torch.cdist), softmax, one matmul."""
    d2 = torch.cdist(x / t, data).square_()  # ||x - t x1||^2 = t^2 ||x / t - x1||^2, t > 0
    w = torch.softmax(d2.mul_(-0.5 * t * t / (1 - t) ** 2), dim=1)
    return (w @ data - x) / (1 - t)


def dense_bytes(batch: int, n: int) -> int:
    return 4 * batch * n * 4  # cdist output, its mm workspace, softmax output, slack


def make_queries(
    data: torch.Tensor, batch: int, kind: str = f"path:{T}", seed: int = 1
) -> tuple[torch.Tensor, float]:
    """(queries (B, D), t): ``path:<t>`` puts them on the path from training points at t,
    ``random`` draws x ~ N(0, I) (queried at t = 0.5)."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    idx = torch.randint(0, data.shape[0], (batch,), generator=g)
    x0 = torch.randn(batch, data.shape[1], generator=g).to(data.device)
    if kind == "random":
        return x0, T
    if not kind.startswith("path:"):
        raise SystemExit(f"--queries: unknown kind {kind!r}; use path:<t> or random")
    t = float(kind.split(":", 1)[1])
    return (1 - t) * x0 + t * data[idx.to(data.device)], t


def subnormals_met(x: torch.Tensor, t: float, data: torch.Tensor) -> int:
    """Subnormals the engine meets on the first 16 queries (module docstring)."""
    with SubnormalScan() as scan:
        oracle_velocity(x[:16], t, data)
    return scan.total()


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def mem_probe(dim: int, n: int, batch: int, method: str) -> dict:
    """Run in a fresh subprocess: peak resident memory of one call above the data set."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD: fixed, large blocks unmapped on free
    torch.manual_seed(0)
    data = torch.randn(n, dim)
    x, _ = make_queries(data, batch)
    small = data[: min(n, 64)]
    oracle_velocity(x, T, small)  # warm up libraries outside the measurement
    dense_velocity(x, T, small)
    before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
    if method == "navref":
        oracle_velocity(x, T, data)
    else:
        dense_velocity(x, T, data)
    peak = _status_kb("VmHWM")
    return {"peak_mb": max(peak - before, 0) / 1024}


def cpu_peak_mb(dim: int, n: int, batch: int, method: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--_probe", method, str(dim), str(n), str(batch)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def bare_products(x: torch.Tensor, w: torch.Tensor, data: torch.Tensor) -> None:
    """The two matrix products of the oracle without anything else: the lower bound."""
    x @ data.T
    w @ data


def cuda_peak_mb(device: torch.device, fn: Callable, *args) -> float:
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn(*args)
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def x_any(data: torch.Tensor, batch: int) -> torch.Tensor:
    """Queries for the bare products (their values do not matter to a matmul's speed)."""
    return make_queries(data, batch)[0]


def cell(args, device, data, x, t, kind, t_bare, memory: bool) -> str:
    """One table row: navref against the bare products and the dense reference; peak
    memory only where ``memory`` (it does not depend on the queries)."""
    batch, n, dim = x.shape[0], data.shape[0], data.shape[1]
    t_nav = best_time(device, args.repeats, oracle_velocity, x, t, data)
    flops = 4 * batch * n * dim
    fits = dense_bytes(batch, n) <= args.dense_limit_gb * 2**30
    if fits:
        t_dense = best_time(device, args.repeats, dense_velocity, x, t, data)
        dense_s = f"{1e3 * t_dense:8.3f} | {t_dense / t_nav:7.2f}x"
    else:
        dense_s = "    skip |     skip"
    nav_s = dense_mb_s = "       -"
    if memory and device.type == "cuda":
        nav_s = f"{cuda_peak_mb(device, oracle_velocity, x, t, data):8.1f}"
        if fits:
            dense_mb_s = f"{cuda_peak_mb(device, dense_velocity, x, t, data):8.1f}"
    elif memory:
        nav_s = f"{cpu_peak_mb(dim, n, batch, 'navref'):8.1f}"
        if fits:
            dense_mb_s = f"{cpu_peak_mb(dim, n, batch, 'dense'):8.1f}"
    # "all": the (B, N) logits fit one chunk's working set, one fused softmax
    chunk = default_chunk_size(dim, batch, device)
    chunk_s = "all" if single_chunk_fits(batch, n, device) else str(chunk)
    return (
        f"| {dim:>5} | {n:>6} | {kind:>8} | {subnormals_met(x, t, data):>4} | {chunk_s:>5} | "
        f"{1e3 * t_nav:9.3f} | {flops / t_nav / 1e9:7.1f} | {1e3 * t_bare:8.3f} | "
        f"{t_nav / t_bare:5.2f} | {dense_s} | {nav_s:>9} | {dense_mb_s} |"
    )


def run_table(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    dims = [64, 256] if args.quick else [64, 256, 1024, 4096]
    sizes = [1000, 10000] if args.quick else [1000, 10000, 100000]
    kinds = args.queries.split(",")
    batch = args.batch
    print(describe_machine())
    print(
        f"# oracle engine benchmark: device={device}, B={batch}, "
        f"torch threads={torch.get_num_threads()}, clock={args.clock}, repeats={args.repeats}, "
        f"load average at start={os.getloadavg()[0]:.1f}"
    )
    head = (
        f"| {'D':>5} | {'N':>6} | {'queries':>8} | {'subn':>4} | {'chunk':>5} | "
        f"{'navref ms':>9} | {'GFLOP/s':>7} | "
        f"{'bare ms':>8} | {'ratio':>5} | {'dense ms':>8} | {'vs dense':>8} | "
        f"{'navref MB':>9} | {'dense MB':>8} |"
    )
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for dim in dims:
        torch.manual_seed(0)
        full = torch.randn(max(sizes), dim, device=device)  # generated once per D
        for n in sizes:
            data = full[:n]
            w = torch.rand(batch, n, device=device)
            t_bare = best_time(device, args.repeats, bare_products, x_any(data, batch), w, data)
            del w
            for i, kind in enumerate(kinds):
                x, t = make_queries(data, batch, kind)
                print(cell(args, device, data, x, t, kind, t_bare, memory=i == 0), flush=True)
        del full
    print(f"# load average at end={os.getloadavg()[0]:.1f}")


def run_sweep(args: argparse.Namespace) -> None:
    """Ratio navref / bare against chunk size, to choose the default."""
    device = torch.device(args.device)
    batch, n = args.batch, 20000 if args.quick else 50000
    print(f"# chunk sweep: device={device}, B={batch}, N={n}; ratio navref/bare per chunk rows")
    for dim in [64, 256, 1024, 4096]:
        torch.manual_seed(0)
        data = torch.randn(n, dim, device=device)
        x, _ = make_queries(data, batch)
        w = torch.rand(batch, n, device=device)
        t_bare = best_time(device, args.repeats, bare_products, x, w, data)
        cells = []
        for chunk in [256, 512, 1024, 2048, 4096, 8192, 16384]:
            t_nav = best_time(device, args.repeats, oracle_velocity, x, T, data, chunk_size=chunk)
            cells.append(f"{chunk}:{t_nav / t_bare:.2f}")
        print(f"D={dim:5d} default={default_chunk_size(dim, batch, device):5d}  " + " ".join(cells))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small grid (D <= 256, N <= 1e4)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dense-limit-gb", type=float, default=4.0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--clock",
        choices=["wall", "thread"],
        default="wall",
        help="wall: perf_counter; thread: CPU time of the calling thread (needs --threads 1 "
        "on CPU; immune to time slices lost to other processes on a shared machine)",
    )
    p.add_argument(
        "--queries",
        default="path:0.2,path:0.4,path:0.6,path:0.8,random",
        help="comma-separated kinds of query: path:<t> (on the path from training points at "
        "t) or random (x ~ N(0, I) at t = 0.5)",
    )
    p.add_argument("--sweep", action="store_true", help="chunk-size sweep instead of the table")
    p.add_argument("--_probe", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args._probe:
        method, dim, n, batch = args._probe
        print(json.dumps(mem_probe(int(dim), int(n), int(batch), method)))
        return
    if args.clock == "thread":
        if args.device != "cpu" or torch.get_num_threads() != 1:
            raise SystemExit("--clock thread needs --device cpu --threads 1")
        global CLOCK
        CLOCK = time.thread_time
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but CUDA is not available")
    if args.sweep:
        run_sweep(args)
    else:
        run_table(args)


if __name__ == "__main__":
    main()
