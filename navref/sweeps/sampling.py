"""Sample generation of the sweeps (rule ``sample_sweep``): the sample sets of one
setting, one per seed (:func:`generate`), each seeded and class-balanced (sample i has label
i mod K, its noise drawn from (seed, i)). Time convention: see :mod:`navref.path` (t = 0
noise, t = 1 data).

Shared trajectory prefixes
--------------------------
All settings of one seed start sample i from the same noise, so two settings whose Euler
steps coincide (same time grid points, same velocity) up to grid index k have bitwise the
same state x_{t_k} (same batches, same order). A setting with a parent (:class:`Branch`)
reads that state from the parent's state store (:func:`write_states` / :func:`read_states`,
float32 rows in sample order) and integrates only steps k .. end; the parent's sample job
stores its states at the steps its children branch at (:meth:`Sweep.branch_steps`). A store
records what made its rows (grid, seed, rows, batch size, precision and the fingerprint of
each model's weights, :func:`navref.fingerprint.module_fingerprint`); a child reads it only
when all of that agrees for its shared steps (the models of those steps included), so a
store written by another model of the same name is refused, not silently continued.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from navref.sweeps.plan import Sweep, get, step_keys

if TYPE_CHECKING:
    import numpy as np
    import torch

    from navref.latents import LatentSpace
    from navref.sampling import VelocityProvider


def state_file(states_dir: str | os.PathLike, step: int) -> Path:
    """The file of the states at grid index ``step`` in a state store."""
    return Path(states_dir) / f"step{step:03d}.npy"


@contextmanager
def write_states(
    states_dir: str | os.PathLike,
    steps: Sequence[int],
    num_samples: int,
    shape: Sequence[int],
    meta: Mapping[str, Any],
) -> Iterator[dict[int, np.ndarray]]:
    """A state store at ``states_dir`` (a directory): yields ``{step: float32 array
    (num_samples, *shape)}``, memory-mapped ``.npy`` files to fill row by row in sample order
    (row i: sample i's state x_t at grid index ``step``), and ``meta`` (JSON: the grid and
    what the rows depend on) in ``meta.json``. Written beside and renamed on success; an
    empty ``steps`` gives a store with ``meta.json`` only (a setting without children)."""
    import shutil
    import tempfile

    import numpy as np

    out = Path(states_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        arrays = {
            k: np.lib.format.open_memmap(
                state_file(tmp, k), mode="w+", dtype=np.float32, shape=(num_samples, *shape)
            )
            for k in steps
        }
        yield arrays
        for a in arrays.values():
            a.flush()
        del arrays
        (tmp / "meta.json").write_text(json.dumps({**meta, "steps": list(steps)}) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_states(states_dir: str | os.PathLike, step: int, meta: Mapping[str, Any]) -> np.ndarray:
    """The states at grid index ``step`` of a store written by :func:`write_states`
    (memory-mapped, (num_samples, ...) float32). Raises ``ValueError`` when the store was
    written for other rows or another grid up to ``step`` (``meta`` of the reader: ``grid``
    its full grid, plus seed, num_samples, batch_size, precision, which must match, and
    ``models``, the weight fingerprints of the models of its steps before ``step``, which the
    store must record alike), so a stale or foreign store cannot silently seed the
    trajectory."""
    import numpy as np

    path = Path(states_dir)
    stored = json.loads((path / "meta.json").read_text())
    wrong = [k for k in meta if k not in ("grid", "models") and stored.get(k) != meta[k]]
    wrong += [
        f"the weights of model {name}"
        for name, key in sorted(meta.get("models", {}).items())
        if stored.get("models", {}).get(name) != key
    ]
    if stored["grid"][: step + 1] != list(meta["grid"])[: step + 1]:
        wrong.append(f"grid up to step {step}")
    if wrong or step not in stored["steps"]:
        raise ValueError(
            f"state store {path} does not hold this trajectory's state at step {step} "
            f"(differs in {wrong or 'its steps ' + str(stored['steps'])}); delete it and rerun "
            "its sample job (snakemake --forcerun sample_sweep)"
        )
    return np.load(state_file(path, step), mmap_mode="r")


def sample_set(
    sweep: Sweep,
    setting: Mapping[str, Any],
    models: Mapping[str, Callable],
    space: LatentSpace,
    num_samples: int,
    seed: int,
    device: str,
    split_time: float | None = None,
    batch_size: int = 500,
    log: Callable[[str], None] | None = None,
    precision: str = "fp32",
    branch: tuple[str | os.PathLike, int] | None = None,
    states_out: str | os.PathLike | None = None,
    keep_steps: Sequence[int] = (),
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``num_samples`` class-balanced, seeded samples of one resolved setting, decoded:
    (uint8 images (N, H, W, C), labels (N,), info). ``models``: the setting's networks by
    name, loaded (``navref.training.load_model``; any ``model(x, t, y) -> v``). ``info``
    holds only deterministic facts (setting, seed, NFE); the sampling speed goes to ``log``.

    Sample i starts from the noise of (seed, i), whatever the batch size, so two settings
    with the same seed start from the same noise (paired comparison). The networks run under
    ``precision`` (:mod:`navref.precision`: autocast lowers only matmuls and convolutions,
    so the ODE state stays float32 and the oracle turns it off inside itself).

    Shared prefixes: ``branch = (parent state store, k)`` starts each batch from the
    parent's stored states at grid index k and integrates grid[k:] only (bitwise what
    integrating from noise gives, since the steps before k coincide and the batches are the
    same rows); ``states_out`` writes this setting's states at ``keep_steps`` (its
    children's branch steps, each after k) to a store (:func:`write_states`)."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from navref.fingerprint import module_fingerprint
    from navref.io import check_finite
    from navref.precision import autocast
    from navref.sampling import balanced_labels, make_noise

    k = int(space.stats["num_classes"])
    grid = sweep.grid(setting)
    info = sweep.info(setting, grid, split_time)
    provider = sweep.velocity(setting, models, k)
    shape = tuple(space.stats["shape"][1:])
    labels = balanced_labels(num_samples, k)
    meta = {"grid": grid.tolist(), "seed": seed, "num_samples": num_samples,
            "batch_size": batch_size, "precision": precision}  # fmt: skip
    first = 0 if branch is None else int(branch[1])
    keys = {name: module_fingerprint(model) for name, model in models.items()}
    shared = {n for step in step_keys(sweep.segments(setting))[:first] for n in step[2]}
    start_states = None
    if branch is not None:
        prefix_keys = {name: key for name, key in keys.items() if name in shared}
        start_states = read_states(branch[0], first, {**meta, "models": prefix_keys})
    meta["models"] = keys
    keep = sorted(int(s) for s in keep_steps)
    if any(not first < s < len(grid) - 1 for s in keep):
        raise ValueError(f"keep_steps {keep} must lie in ({first}, {len(grid) - 1})")
    record_at = [float(grid[s]) for s in keep]
    images = []
    t0 = time.perf_counter()
    bar = tqdm(total=num_samples, desc="sample", unit="img", file=sys.stderr, mininterval=5)
    with _maybe_states(states_out, keep, num_samples, shape, meta) as stored:
        for start in range(0, num_samples, batch_size):
            stop = min(start + batch_size, num_samples)
            if start_states is None:
                x = make_noise((stop - start, *shape), seed, start, device=device)
            else:
                x = torch.from_numpy(np.array(start_states[start:stop])).to(device)
            with torch.no_grad(), autocast(device, precision):
                z, states = _integrate(provider, grid[first:].to(device), x,
                                       labels[start:stop].to(device), record_at)  # fmt: skip
            for s, state in zip(keep, states, strict=True):
                stored[s][start:stop] = state.cpu().numpy()
            check_finite(
                z,
                "sampled latents",
                "the model diverges on this setting: check its training log",
                first_row=start,
            )  # fmt: skip (decoding NaN to uint8 would hide it)
            images.append(space.decode(z.cpu()))
            bar.update(stop - start)
    bar.close()
    seconds = time.perf_counter() - t0
    info.update(seed=seed, num_samples=num_samples, nfe=len(grid) - 1)
    if log is not None:  # the timing goes to the log only: ``info`` must be deterministic
        rate = num_samples / max(seconds, 1e-9)
        log(f"sampled {num_samples} images in {seconds:.1f} s ({rate:.1f} images/s, "
            f"batch {batch_size}, precision {precision})")  # fmt: skip
        if branch is not None:
            log(f"started at grid index {first} (t = {float(grid[first]):.6g}) from {branch[0]}")
        if keep:
            log(f"stored the states at grid indices {keep} in {states_out}")
    return np.concatenate(images), labels.numpy(), info


def _integrate(
    provider: VelocityProvider,
    grid: torch.Tensor,
    x: torch.Tensor,
    labels: torch.Tensor,
    record_at: Sequence[float],
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """:func:`navref.sampling.sample` of one batch from state ``x`` at ``grid[0]``: the
    final state and the states at the grid times ``record_at`` (in time order)."""
    from navref.sampling import sample

    if not record_at:
        return sample(provider, grid, x, labels), []
    run = sample(provider, grid, x, labels, record_at=record_at, return_trajectory=True)
    return run.final, run.states


@contextmanager
def _maybe_states(
    states_out: str | os.PathLike | None,
    steps: Sequence[int],
    num_samples: int,
    shape: Sequence[int],
    meta: Mapping[str, Any],
) -> Iterator[dict[int, np.ndarray]]:
    """:func:`write_states` when ``states_out`` is given, else nothing to fill."""
    if states_out is None:
        if steps:
            raise ValueError(f"keep_steps {list(steps)} given without states_out")
        yield {}
        return
    with write_states(states_out, steps, num_samples, shape, meta) as arrays:
        yield arrays


def generate(
    kind: str,
    setting: Mapping[str, Any],
    model_dirs: Mapping[str, str | os.PathLike],
    space_dir: str | os.PathLike,
    split_times_path: str | os.PathLike,
    out_paths: Sequence[str | os.PathLike],
    *,
    num_samples: int,
    seeds: Sequence[int],
    device: str,
    batch_size: int,
    log: logging.Logger,
    precision: str = "fp32",
    branch: tuple[Sequence[str | os.PathLike], int] | None = None,
    states_out: Sequence[str | os.PathLike] = (),
    keep_steps: Sequence[int] = (),
) -> None:
    """Rule ``sample_sweep``: the sample sets of one setting of sweep ``kind``, one per seed
    (``out_paths[i]`` for ``seeds[i]``: npz with ``images``, ``labels`` and ``info`` as
    JSON). Seed i starts from its parent's state store ``branch[0][i]`` at grid index
    ``branch[1]`` (if any) and writes its states at ``keep_steps`` to ``states_out[i]``
    (:func:`sample_set`). Models, latent space and split times are loaded once for all seeds.
    The setting's relative times are resolved with the split time of the space; a space
    without one logs a warning (sweeps with absolute times do not need it). Raises
    ``ValueError`` when the path lists do not match ``seeds``."""
    import numpy as np

    from navref.analysis.split_times import SplitTimes
    from navref.io import atomic_path
    from navref.latents import LatentSpace
    from navref.training import load_model

    states_out = list(states_out) or [None] * len(seeds)
    parents = [None] * len(seeds) if branch is None else list(branch[0])
    if not len(out_paths) == len(states_out) == len(parents) == len(seeds):
        raise ValueError(
            f"generate: {len(seeds)} seeds but {len(out_paths)} sample paths, "
            f"{len(states_out)} state stores and {len(parents)} parent stores"
        )
    sweep = get(kind, {})
    space_name = Path(space_dir).name
    split_times = SplitTimes.read(split_times_path)
    split_time = None
    try:
        split_time = split_times.resolve("s1", space_name)
    except ValueError as err:
        log.warning("no split time for %s: %s", space_name, err)
    setting = sweep.resolve(setting, split_times, space_name)
    space = LatentSpace.load(space_dir, device=device, precision=precision)
    models = {n: load_model(d, which="ema", device=device) for n, d in model_dirs.items()}
    for seed, out_path, parent, store in zip(seeds, out_paths, parents, states_out, strict=True):
        images, labels, info = sample_set(
            sweep, setting, models, space, num_samples, int(seed), device,
            split_time=split_time, batch_size=batch_size, log=log.info, precision=precision,
            branch=None if parent is None else (parent, int(branch[1])),
            states_out=store, keep_steps=keep_steps,
        )  # fmt: skip
        log.info("generated %s images: %s", images.shape, info)
        with atomic_path(out_path, suffix=".npz") as tmp:
            np.savez(tmp, images=images, labels=labels, info=np.array(json.dumps(info)))
