"""The generation sweeps of the paper (Tab. 1-3), one class per sweep kind, in a registry.

Each :class:`Sweep` knows, for its kind:

- its settings, from its block of the config (``sweeps.<kind>``, validated against
  ``schemas/config.schema.yaml``, which holds every default): ``{setting id: setting}``, the
  id being the ``{setting}`` wildcard of rule ``sample_sweep``;
- the models a setting needs (:meth:`Sweep.model_roles`);
- its time grid and the facts it records (:meth:`Sweep.grid`, :meth:`Sweep.info`);
- its velocity provider (:meth:`Sweep.velocity`);
- its trajectory as segments (:meth:`Sweep.segments`), from which :meth:`Sweep.branches`
  finds, per setting, the earlier setting whose trajectory it shares longest (its parent:
  the sample job starts from the parent's stored state there instead of from noise);
- its table (:meth:`Sweep.table`, the functions of :mod:`navref.report.tables`) and the
  paper's rows (:meth:`Sweep.paper_rows`, :mod:`navref.report.paper`).

The rules, :func:`generate` (rule ``sample_sweep``) and the report ask :data:`REGISTRY`;
adding a sweep kind is one class here plus its block in the schema.

Time convention: see :mod:`navref.path` (t = 0 noise, t = 1 data). Every sample set is
seeded and class-balanced (sample i has label i mod K, its noise drawn from (seed, i)).

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
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

# The rules import this module when Snakemake parses the workflow (settings, models, the
# registry): torch, pandas and the samplers are imported where they are used.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch

    from navref.analysis.split_times import SplitTimes
    from navref.latents import LatentSpace
    from navref.sampling import VelocityProvider

Setting = dict[str, Any]

#: :data:`navref.sampling.TIME_TOL`, which imports torch; a torch-free copy for the workflow's
#: parse (tests/unit/test_sweeps_prefix.py checks that the two agree)
TIME_TOL = 1e-9


def _g(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Segment:
    """Euler steps ``start`` .. ``stop - 1`` (grid indices) of one trajectory, all with one
    velocity. ``grid`` names the time grid (equal names: equal grid points, e.g.
    ``("uniform", 50)``); ``velocity`` names the velocity (provider, models, guidance, e.g.
    ``("cond", "small")``, ``("cfg", "small", 2.5)``). Two steps with equal (grid, index,
    velocity) map equal states to equal states."""

    grid: tuple
    start: int
    stop: int
    velocity: tuple


@dataclass(frozen=True)
class Branch:
    """Where a setting's trajectory leaves its parent's: the two coincide for grid steps
    0 .. ``step`` - 1, so the state at grid index ``step`` is the same in both."""

    parent: str
    step: int


def _step_keys(segments: Sequence[Segment]) -> list[tuple]:
    """One (grid, index, velocity) key per Euler step of a trajectory."""
    return [(s.grid, k, s.velocity) for s in segments for k in range(s.start, s.stop)]


def shared_steps(a: Sequence[Segment], b: Sequence[Segment]) -> int:
    """The number of leading Euler steps in which trajectories ``a`` and ``b`` coincide."""
    n = 0
    for ka, kb in zip(_step_keys(a), _step_keys(b), strict=False):
        if ka != kb:
            break
        n += 1
    return n


class Sweep:
    """One sweep kind; an instance holds its config block ``sweeps.<kind>`` (``conf``,
    defaults filled in by the schema; empty or None when the sweep is not run)."""

    kind: ClassVar[str]
    #: the report's name of its table (``results/<run_name>/tables/<table_name>.*``)
    table_name: ClassVar[str]

    def __init__(self, conf: Mapping[str, Any] | None) -> None:
        self.conf = dict(conf or {})

    def settings(self) -> dict[str, Setting]:
        """``{setting id: setting}``; empty when the sweep is not configured. Raises
        ``ValueError`` when two config entries give the same setting (one would silently
        replace the other)."""
        out: dict[str, Setting] = {}
        for key, setting in self._settings() if self.conf else []:
            if key in out:
                raise ValueError(
                    f"sweeps.{self.kind}: setting {key!r} is listed twice; remove the repeat"
                )
            out[key] = setting
        return out

    def _settings(self) -> list[tuple[str, Setting]]:
        """(setting id, setting) per config entry, in config order."""
        raise NotImplementedError

    def model_roles(self, setting: Mapping[str, Any]) -> dict[str, str]:
        """``{role: model name}`` of the models one setting samples with."""
        return {"model": setting["model"]}

    def models(self, setting: Mapping[str, Any]) -> list[str]:
        """The names of the models one setting samples with (the rule's model inputs)."""
        return list(self.model_roles(setting).values())

    def resolve(self, setting: Mapping[str, Any], split_times: SplitTimes, space: str) -> Setting:
        """The setting with its times made absolute (relative specs ``"s<f>"``, see
        :mod:`navref.analysis.split_times`)."""
        return dict(setting)

    def grid(self, setting: Mapping[str, Any]) -> torch.Tensor:
        """The Euler time grid (1-D float64, from 0 to 1) of a resolved setting."""
        from navref.sampling import uniform_grid

        return uniform_grid(int(setting["steps"]))

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        """The facts of a resolved setting that its metrics row records."""
        raise NotImplementedError

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        """The trajectory of a setting (resolved or not: relative times are named, not
        resolved) as :class:`Segment` s in step order; must agree with :meth:`grid` and
        :meth:`velocity`. Default: ``steps`` uniform steps of the conditional model."""
        n = int(setting["steps"])
        return [Segment(("uniform", n), 0, n, ("cond", setting["model"]))]

    def branches(self) -> dict[str, Branch | None]:
        """``{setting id: its Branch or None}``: the parent of a setting is the EARLIER
        setting (config order) whose trajectory it shares longest (ties: the earliest),
        None when it shares no step with any (it starts from noise). Earlier-only keeps the
        parents a forest and means that appending a setting to the config never changes an
        existing setting's parent. The shared part is at most all steps but the last."""
        settings = self.settings()
        trajectories = {key: self.segments(s) for key, s in settings.items()}
        out: dict[str, Branch | None] = {}
        for i, key in enumerate(settings):
            total = len(_step_keys(trajectories[key]))
            best: Branch | None = None
            for prev in list(settings)[:i]:
                n = min(shared_steps(trajectories[key], trajectories[prev]), total - 1)
                if n > 0 and (best is None or n > best.step):
                    best = Branch(prev, n)
            out[key] = best
        return out

    def branch_steps(self, key: str) -> list[int]:
        """The grid indices at which setting ``key`` must store its states: where its
        children branch (sorted, empty for a setting without children)."""
        return sorted({b.step for b in self.branches().values() if b and b.parent == key})

    def velocity(
        self, setting: Mapping[str, Any], models: Mapping[str, Any], num_classes: int
    ) -> VelocityProvider:
        """The velocity provider of a resolved setting; ``models`` maps names to loaded
        models. Default: the class-conditional model, no guidance."""
        from navref.sampling import ModelVelocity

        return ModelVelocity(models[setting["model"]], num_classes, mode="cond")

    def table(
        self,
        sweeps: pd.DataFrame,
        tau_map: Mapping[float, float],
        replicates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Our table beside the paper's, from ``results/<run_name>/metrics/sweeps.parquet``, with each
        row's paired FID difference to the table's reference setting (bootstrap from
        ``replicates`` when given; :mod:`navref.report.tables`)."""
        raise NotImplementedError

    def paper_rows(self) -> pd.DataFrame:
        """The paper's published rows of this table."""
        raise NotImplementedError


REGISTRY: dict[str, type[Sweep]] = {}


def register(cls: type[Sweep]) -> type[Sweep]:
    """Class decorator: add a sweep kind to :data:`REGISTRY` under ``cls.kind``."""
    REGISTRY[cls.kind] = cls
    return cls


def get(kind: str, sweeps_conf: Mapping[str, Any]) -> Sweep:
    """The sweep ``kind`` configured by the config's ``sweeps`` section ``sweeps_conf``.
    An unknown kind is a ``ValueError`` naming the known ones."""
    if kind not in REGISTRY:
        raise ValueError(f"unknown sweep {kind!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[kind](sweeps_conf.get(kind))


@register
class StageSwap(Sweep):
    """Tab. 1: model ``stage1`` for t in [0, tau], ``stage2`` on [tau, 1], ``steps_per_stage``
    Euler steps in each part, no CFG. ``tau`` may be relative to the split time."""

    kind = "stage_swap"
    table_name = "table1"

    def _settings(self) -> list[tuple[str, Setting]]:
        return [
            (
                f"tau{tau}_{a}-{b}",
                {
                    "tau": str(tau),
                    "stage1": a,
                    "stage2": b,
                    "steps_per_stage": self.conf["steps_per_stage"],
                },
            )
            for tau in self.conf["taus"]
            for a, b in self.conf["pairs"]
        ]

    def model_roles(self, setting: Mapping[str, Any]) -> dict[str, str]:
        return {"stage1": setting["stage1"], "stage2": setting["stage2"]}

    def resolve(self, setting: Mapping[str, Any], split_times: SplitTimes, space: str) -> Setting:
        return {**setting, "tau": split_times.resolve(setting["tau"], space)}

    def grid(self, setting: Mapping[str, Any]) -> torch.Tensor:
        from navref.sampling import stagewise_grid

        n = int(setting["steps_per_stage"])
        return stagewise_grid(float(setting["tau"]), n, n)

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        n = int(setting["steps_per_stage"])
        grid = ("stagewise", str(setting["tau"]), n)
        return [
            Segment(grid, 0, n, ("cond", setting["stage1"])),
            Segment(grid, n, 2 * n, ("cond", setting["stage2"])),
        ]

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        return {"tau": float(setting["tau"]), "steps": 2 * int(setting["steps_per_stage"])}

    def velocity(
        self, setting: Mapping[str, Any], models: Mapping[str, Any], num_classes: int
    ) -> VelocityProvider:
        from navref.sampling import ModelVelocity, switch_at

        first = ModelVelocity(models[setting["stage1"]], num_classes, mode="cond")
        second = ModelVelocity(models[setting["stage2"]], num_classes, mode="cond")
        return switch_at(float(setting["tau"]), first, second)

    def table(
        self,
        sweeps: pd.DataFrame,
        tau_map: Mapping[float, float],
        replicates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        from navref.report.tables import SIZE_ORDER, table1

        return table1(sweeps, SIZE_ORDER, tau_map, replicates)

    def paper_rows(self) -> pd.DataFrame:
        from navref.report.paper import table1

        return table1()


@register
class TimestepShift(Sweep):
    """Tab. 2: ``steps`` Euler steps on the shifted grid t_m = s t_n / (1 + (s - 1) t_n)
    (s = ``shift``), no CFG; records the share of steps below the split time."""

    kind = "timestep_shift"
    table_name = "table2"

    def _settings(self) -> list[tuple[str, Setting]]:
        return [
            (f"s{_g(s)}", {"model": self.conf["model"], "shift": s, "steps": self.conf["steps"]})
            for s in self.conf["shifts"]
        ]

    def grid(self, setting: Mapping[str, Any]) -> torch.Tensor:
        from navref.sampling import shifted_grid

        return shifted_grid(int(setting["steps"]), float(setting["shift"]))

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        n = int(setting["steps"])
        return [Segment(("shifted", n, float(setting["shift"])), 0, n, ("cond", setting["model"]))]

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        info = {"shift": float(setting["shift"]), "steps": int(setting["steps"])}
        if split_time is not None:
            from navref.sampling import share_below

            info.update(
                split_time=split_time,
                share_below_split=share_below(grid, split_time, inclusive=True),
            )
        return info

    def table(
        self,
        sweeps: pd.DataFrame,
        tau_map: Mapping[float, float],
        replicates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        from navref.report.tables import table2

        return table2(sweeps, replicates)

    def paper_rows(self) -> pd.DataFrame:
        from navref.report.paper import table2

        return table2()


@register
class CfgInterval(Sweep):
    """Tab. 3: ``steps`` uniform Euler steps, classifier-free guidance of ``scale`` only for
    t in ``interval`` = [a, b] (None: no CFG, the conditional model alone)."""

    kind = "cfg_interval"
    table_name = "table3"

    def _settings(self) -> list[tuple[str, Setting]]:
        return [
            (
                "none" if iv == "none" else f"{_g(iv[0])}-{_g(iv[1])}",
                {
                    "model": self.conf["model"],
                    "interval": None if iv == "none" else list(iv),
                    "scale": self.conf["scale"],
                    "steps": self.conf["steps"],
                },
            )
            for iv in self.conf["intervals"]
        ]

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        a, b = setting["interval"] if setting.get("interval") else (math.nan, math.nan)
        return {
            "cfg_a": a,
            "cfg_b": b,
            "cfg_scale": float(setting["scale"]),
            "steps": int(setting["steps"]),
        }

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        """Runs of guided / unguided steps on the uniform grid t_k = k / n; step k is guided
        when a <= t_k <= b up to ``TIME_TOL`` (as :meth:`ModelVelocity.guided_at`). An
        unguided step of a guided setting is the conditional model's, as in ``none``."""
        n, model = int(setting["steps"]), setting["model"]
        a, b = setting["interval"] if setting.get("interval") else (math.inf, -math.inf)
        guided = [a - TIME_TOL <= k / n <= b + TIME_TOL for k in range(n)]
        plain, cfg = ("cond", model), ("cfg", model, float(setting["scale"]))
        out: list[Segment] = []
        for k, g in enumerate(guided):
            velocity = cfg if g else plain
            if out and out[-1].velocity == velocity:
                out[-1] = Segment(out[-1].grid, out[-1].start, k + 1, velocity)
            else:
                out.append(Segment(("uniform", n), k, k + 1, velocity))
        return out

    def velocity(
        self, setting: Mapping[str, Any], models: Mapping[str, Any], num_classes: int
    ) -> VelocityProvider:
        if not setting.get("interval"):
            return super().velocity(setting, models, num_classes)
        from navref.sampling import ModelVelocity

        return ModelVelocity(
            models[setting["model"]],
            num_classes,
            mode="cfg",
            cfg_scale=float(setting["scale"]),
            cfg_interval=tuple(setting["interval"]),
        )

    def table(
        self,
        sweeps: pd.DataFrame,
        tau_map: Mapping[float, float],
        replicates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        from navref.report.tables import table3

        return table3(sweeps, replicates)

    def paper_rows(self) -> pd.DataFrame:
        from navref.report.paper import table3

        return table3()


KINDS: list[str] = list(REGISTRY)


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
    shared = {n for step in _step_keys(sweep.segments(setting))[:first] for n in step[2]}
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


def gather_metrics(
    paths: Sequence[str | os.PathLike],
    meta: Mapping[str, Mapping[str, Any]],
    out_path: str | os.PathLike,
) -> None:
    """Rule ``sweep_tables``: every sample set's metrics row in one table
    (``results/<run_name>/metrics/sweeps.parquet``, the input of Tab. 1-3), each row completed with
    ``meta["<sweep>/<setting>"]`` (its models and their sizes)."""
    import pandas as pd

    from navref.io import save_parquet

    rows = []
    for path in paths:
        frame = pd.read_parquet(path)
        for k, v in meta[f"{frame['sweep'].iloc[0]}/{frame['setting'].iloc[0]}"].items():
            frame[k] = v
        rows.append(frame)
    save_parquet(out_path, pd.concat(rows, ignore_index=True))


def write_tables(
    sweeps_path: str | os.PathLike,
    out_stems: Mapping[str, str | os.PathLike],
    tau_map: Mapping[float, float],
    kinds: Sequence[str] = tuple(KINDS),
) -> None:
    """Each sweep's table (Parquet, Markdown, LaTeX) at ``out_stems[sweep.table_name]``."""
    import pandas as pd

    from navref.report.tables import write_table

    sweeps = pd.read_parquet(sweeps_path)
    for kind in kinds:
        sweep = get(kind, {})
        write_table(sweep.table(sweeps, tau_map), Path(out_stems[sweep.table_name]))


__all__ = [
    "KINDS",
    "REGISTRY",
    "TIME_TOL",
    "Branch",
    "CfgInterval",
    "Segment",
    "StageSwap",
    "Sweep",
    "TimestepShift",
    "gather_metrics",
    "generate",
    "get",
    "register",
    "read_states",
    "sample_set",
    "shared_steps",
    "state_file",
    "write_states",
    "write_tables",
]
