"""The generation sweeps of the paper (Tab. 1-3), one class per sweep kind, in a registry.

Each :class:`Sweep` knows, for its kind:

- its settings, from its block of the config (``sweeps.<kind>``, validated against
  ``schemas/config.schema.yaml``, which holds every default): ``{setting id: setting}``, the
  id being the ``{setting}`` wildcard of rule ``sample_sweep``;
- the models a setting needs (:meth:`Sweep.model_roles`);
- its time grid and the facts it records (:meth:`Sweep.grid`, :meth:`Sweep.info`);
- its velocity provider (:meth:`Sweep.velocity`);
- its table (:meth:`Sweep.table`, the functions of :mod:`navref.report.tables`) and the
  paper's rows (:meth:`Sweep.paper_rows`, :mod:`navref.report.paper`).

The rules, :func:`generate` (rule ``sample_sweep``) and the report ask :data:`REGISTRY`;
adding a sweep kind is one class here plus its block in the schema.

Time convention: see :mod:`navref.path` (t = 0 noise, t = 1 data). Every sample set is
seeded and class-balanced (sample i has label i mod K, its noise drawn from (seed, i)).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
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


def _g(x: float) -> str:
    return f"{x:g}"


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

    def velocity(
        self, setting: Mapping[str, Any], models: Mapping[str, Any], num_classes: int
    ) -> VelocityProvider:
        """The velocity provider of a resolved setting; ``models`` maps names to loaded
        models. Default: the class-conditional model, no guidance."""
        from navref.sampling import ModelVelocity

        return ModelVelocity(models[setting["model"]], num_classes, mode="cond")

    def table(self, sweeps: pd.DataFrame, tau_map: Mapping[float, float]) -> pd.DataFrame:
        """Our table beside the paper's, from ``results/<run_name>/metrics/sweeps.parquet``."""
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

    def table(self, sweeps: pd.DataFrame, tau_map: Mapping[float, float]) -> pd.DataFrame:
        from navref.report.tables import SIZE_ORDER, table1

        return table1(sweeps, SIZE_ORDER, tau_map)

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

    def table(self, sweeps: pd.DataFrame, tau_map: Mapping[float, float]) -> pd.DataFrame:
        from navref.report.tables import table2

        return table2(sweeps)

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

    def table(self, sweeps: pd.DataFrame, tau_map: Mapping[float, float]) -> pd.DataFrame:
        from navref.report.tables import table3

        return table3(sweeps)

    def paper_rows(self) -> pd.DataFrame:
        from navref.report.paper import table3

        return table3()


KINDS: list[str] = list(REGISTRY)


def sample_set(
    sweep: Sweep,
    setting: Mapping[str, Any],
    model_dirs: Mapping[str, str | os.PathLike],
    space: LatentSpace,
    num_samples: int,
    seed: int,
    device: str,
    split_time: float | None = None,
    batch_size: int = 500,
    log: Callable[[str], None] | None = None,
    precision: str = "fp32",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``num_samples`` class-balanced, seeded samples of one resolved setting, decoded:
    (uint8 images (N, H, W, C), labels (N,), info). ``info`` holds only deterministic facts
    (setting, seed, NFE); the sampling speed goes to ``log``.

    Sample i starts from the noise of (seed, i), whatever the batch size, so two settings
    with the same seed start from the same noise (paired comparison). The networks run under
    ``precision`` (:mod:`navref.precision`: autocast lowers only matmuls and convolutions,
    so the ODE state stays float32 and the oracle turns it off inside itself)."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from navref.io import check_finite
    from navref.precision import autocast
    from navref.sampling import balanced_labels, make_noise, sample
    from navref.training import load_model

    k = int(space.stats["num_classes"])
    grid = sweep.grid(setting)
    info = sweep.info(setting, grid, split_time)
    models = {n: load_model(d, which="ema", device=device) for n, d in model_dirs.items()}
    provider = sweep.velocity(setting, models, k)
    shape = tuple(space.stats["shape"][1:])
    labels = balanced_labels(num_samples, k)
    images = []
    t0 = time.perf_counter()
    bar = tqdm(total=num_samples, desc="sample", unit="img", file=sys.stderr, mininterval=5)
    for start in range(0, num_samples, batch_size):
        stop = min(start + batch_size, num_samples)
        noise = make_noise((stop - start, *shape), seed, start, device=device)
        with torch.no_grad(), autocast(device, precision):
            z = sample(provider, grid.to(device), noise, labels[start:stop].to(device))
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
        log(f"sampled {num_samples} images in {seconds:.1f} s ({rate:.1f} images/s)")
    return np.concatenate(images), labels.numpy(), info


def generate(
    kind: str,
    setting: Mapping[str, Any],
    model_dirs: Mapping[str, str | os.PathLike],
    space_dir: str | os.PathLike,
    split_times_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    num_samples: int,
    seed: int,
    device: str,
    batch_size: int,
    log: logging.Logger,
    precision: str = "fp32",
) -> None:
    """Rule ``sample_sweep``: one sample set of sweep ``kind`` written to ``out_path`` (npz
    with ``images``, ``labels`` and ``info`` as JSON). The setting's relative times are
    resolved with the split time of the space; a space without one logs a warning (sweeps
    with absolute times do not need it)."""
    import numpy as np

    from navref.analysis.split_times import SplitTimes
    from navref.io import atomic_path
    from navref.latents import LatentSpace

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
    images, labels, info = sample_set(
        sweep, setting, model_dirs, space, num_samples, seed, device,
        split_time=split_time, batch_size=batch_size, log=log.info, precision=precision,
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
    "CfgInterval",
    "StageSwap",
    "Sweep",
    "TimestepShift",
    "gather_metrics",
    "generate",
    "get",
    "register",
    "sample_set",
    "write_tables",
]
