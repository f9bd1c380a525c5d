"""The torch-free plan of the sweeps: what Snakemake's parse reads (settings, models,
segments, branches, file names) and the registry of sweep kinds.

:class:`Sweep` is the base of every kind; each kind lives in its own module of
:mod:`navref.sweeps` (settings, grid, velocity, table, paper rows, plot labels and the
inputs its claim reads) and registers itself here (:func:`register`). The package
``navref/sweeps/__init__.py`` imports the kinds in the registry's order, so importing any
part of :mod:`navref.sweeps` fills :data:`REGISTRY`: it is the only list of kinds.

Nothing here imports torch, pandas or the samplers at import time (the rules import this
module when Snakemake parses the workflow); they are imported where they are used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from navref.analysis.split_times import SplitTimes
    from navref.sampling import VelocityProvider

Setting = dict[str, Any]

#: :data:`navref.sampling.TIME_TOL`, which imports torch; a torch-free copy for the workflow's
#: parse (tests/unit/test_sweeps_prefix.py checks that the two agree)
TIME_TOL = 1e-9


def fmt_g(x: float) -> str:
    """``x`` as the setting ids spell it (``f"{x:g}"``)."""
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


def step_keys(segments: Sequence[Segment]) -> list[tuple]:
    """One (grid, index, velocity) key per Euler step of a trajectory."""
    return [(s.grid, k, s.velocity) for s in segments for k in range(s.start, s.stop)]


def shared_steps(a: Sequence[Segment], b: Sequence[Segment]) -> int:
    """The number of leading Euler steps in which trajectories ``a`` and ``b`` coincide."""
    n = 0
    for ka, kb in zip(step_keys(a), step_keys(b), strict=False):
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

    def conf_models(self) -> set[str]:
        """The model names the config block names (before settings are made, for the
        config's cross-checks, :mod:`navref.config_relations`)."""
        return {self.conf["model"]} if self.conf.get("model") else set()

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

    def branches(self, settings: Mapping[str, Setting] | None = None) -> dict[str, Branch | None]:
        """``{setting id: its Branch or None}``: the parent of a setting is the EARLIER
        setting (config order) whose trajectory it shares longest (ties: the earliest),
        None when it shares no step with any (it starts from noise). Earlier-only keeps the
        parents a forest and means that appending a setting to the config never changes an
        existing setting's parent. The shared part is at most all steps but the last.
        ``settings``: ``{id: setting}`` to branch among (default: :meth:`settings`; the
        runs of one training replicate, :meth:`run_branches`)."""
        settings = self.settings() if settings is None else settings
        trajectories = {key: self.segments(s) for key, s in settings.items()}
        out: dict[str, Branch | None] = {}
        for i, key in enumerate(settings):
            total = len(step_keys(trajectories[key]))
            best: Branch | None = None
            for prev in list(settings)[:i]:
                n = min(shared_steps(trajectories[key], trajectories[prev]), total - 1)
                if n > 0 and (best is None or n > best.step):
                    best = Branch(prev, n)
            out[key] = best
        return out

    def branch_steps(self, key: str, settings: Mapping[str, Setting] | None = None) -> list[int]:
        """The grid indices at which setting ``key`` must store its states: where its
        children branch (sorted, empty for a setting without children); ``settings`` as
        in :meth:`branches`."""
        branches = self.branches(settings).values()
        return sorted({b.step for b in branches if b and b.parent == key})

    # ------------------------------------------------------------ training replicates

    def rename_models(self, setting: Mapping[str, Any], names: Mapping[str, str]) -> Setting:
        """``setting`` with each of its models ``m`` replaced by ``names.get(m, m)``. The
        roles of :meth:`model_roles` are the setting's keys that name its models (in every
        kind); a kind whose roles are not keys overrides this."""
        roles = self.model_roles(setting)
        return {**setting, **{role: names.get(m, m) for role, m in roles.items()}}

    def runs(self, replicates: Mapping[str, Sequence[str]] | None = None) -> dict[str, Run]:
        """``{run key: Run}``: every setting once per training replicate r of its models
        (``replicates``: ``{config model: its replicate models, replicate 0 first}``,
        :func:`navref.replicates.replicates_of`; a model not in it has one replicate, itself).
        Run r of a setting uses replicate r of each of its models; the key is the setting id
        for r = 0 (its files are those of the setting) and ``<id>_train<r>`` else
        (:func:`run_key`). Settings in config order, per setting its replicates in order.
        Raises ``ValueError`` when the models of a setting have different numbers of
        replicates or two runs get one key."""
        replicates = replicates or {}
        out: dict[str, Run] = {}
        for key, setting in self.settings().items():
            models = dict.fromkeys(self.models(setting))
            counts = {m: len(replicates.get(m, [m])) for m in models}
            if len(set(counts.values())) != 1:
                raise ValueError(
                    f"sweeps.{self.kind}: setting {key!r} combines models with different "
                    f"numbers of training seeds ({counts}); give them equally many seeds"
                )
            for r in range(next(iter(counts.values()))):
                names = {m: list(replicates.get(m, [m]))[r] for m in models}
                run = Run(key, r, self.rename_models(setting, names))
                if run.key in out:
                    raise ValueError(
                        f"sweeps.{self.kind}: run {run.key!r} (setting {key!r}, training "
                        f"replicate {r}) has the key of another; rename the setting's models"
                    )
                out[run.key] = run
        return out

    def run_branches(self, runs: Mapping[str, Run]) -> dict[str, Branch | None]:
        """:meth:`branches` per training replicate: a run's parent is a run of the same
        replicate (its :class:`Branch` names the parent's run key)."""
        out: dict[str, Branch | None] = {}
        for r in sorted({run.replicate for run in runs.values()}):
            out.update(self.branches(replicate_settings(runs, r)))
        return {key: out[key] for key in runs}

    def run_branch_steps(self, runs: Mapping[str, Run], key: str) -> list[int]:
        """:meth:`branch_steps` of run ``key`` among the runs of its training replicate."""
        return self.branch_steps(key, replicate_settings(runs, runs[key].replicate))

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
        """Our table beside the paper's, from the sweep's per-seed metrics
        (``results/<run_name>/metrics/<sweep>.parquet``), with each row's paired FID
        difference to the table's reference setting (bootstrap from ``replicates`` when
        given; :mod:`navref.report.tables`)."""
        raise NotImplementedError

    def paper_rows(self) -> pd.DataFrame:
        """The paper's published rows of this table."""
        raise NotImplementedError

    #: the table's columns that :meth:`plot_labels` reads
    plot_columns: ClassVar[tuple[str, ...]] = ()

    def plot_labels(self, table: pd.DataFrame) -> list[str]:
        """One x label per row of this sweep's table (its setting) on its plot."""
        raise NotImplementedError

    def line_groups(self, table: pd.DataFrame) -> list[Any]:
        """Row positions (integer arrays) joined by one line on the plot: all rows."""
        import numpy as np

        return [np.arange(len(table))]


def run_key(setting: str, replicate: int) -> str:
    """The key of training replicate ``replicate`` of sweep setting ``setting``: the
    setting id for replicate 0, ``<id>_train<r>`` else (the ``{setting}`` wildcard and the
    name of its sample, state and metrics files)."""
    return setting if int(replicate) == 0 else f"{setting}_train{int(replicate)}"


@dataclass(frozen=True)
class Run:
    """One setting of a sweep under one training replicate: the setting's id (``setting``,
    the config's), the replicate's index (``replicate``) and the setting with the
    replicate's models (``conf``)."""

    setting: str
    replicate: int
    conf: Setting

    @property
    def key(self) -> str:
        """:func:`run_key` of the run."""
        return run_key(self.setting, self.replicate)


def replicate_settings(runs: Mapping[str, Run], replicate: int) -> dict[str, Setting]:
    """``{run key: setting}`` of the runs of training replicate ``replicate``, in order."""
    return {key: run.conf for key, run in runs.items() if run.replicate == replicate}


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


def kinds() -> list[str]:
    """The registered sweep kinds, in the registry's order (that of the rows of
    ``metrics/sweeps.parquet``)."""
    return list(REGISTRY)


def by_table(table_name: str) -> Sweep:
    """The (unconfigured) sweep whose table is ``table_name`` (``table1`` ...): the one
    mapping of tables to sweeps. An unknown name is a ``ValueError`` listing the known ones."""
    sweeps = {cls.table_name: cls(None) for cls in REGISTRY.values()}
    if table_name not in sweeps:
        raise ValueError(
            f"no sweep writes table {table_name!r} (unknown table); known: {sorted(sweeps)}"
        )
    return sweeps[table_name]


def table_names() -> list[str]:
    """The table of every registered sweep kind, in the registry's order."""
    return [cls.table_name for cls in REGISTRY.values()]


def sample_file(results: str, kind: str, setting: str, seed: int | str) -> str:
    """The sample set of one seed of one setting (rule ``sample_sweep``)."""
    return f"{results}/samples/{kind}/{setting}/seed{seed}.npz"


def states_dir(results: str, kind: str, setting: str, seed: int | str) -> str:
    """The state store of one seed of one setting (rule ``sample_sweep``'s ``states``)."""
    return f"{results}/states/{kind}/{setting}/seed{seed}"


def metrics_file(results: str, kind: str, setting: str, suffix: str = "") -> str:
    """The metrics (``suffix=""``) or bootstrap (``"_bootstrap"``) file of one setting."""
    return f"{results}/metrics/{kind}/{setting}{suffix}.parquet"
