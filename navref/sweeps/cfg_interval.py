"""The sweep kind of Tab. 3, CFG interval."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from navref.sweeps import table as tab
from navref.sweeps.plan import TIME_TOL, Segment, Setting, Sweep, fmt_g, register

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from navref.sampling import VelocityProvider

_NAN = math.nan

# (a, b, gFID@50K, column of the paper's table); a = b = NaN with label "none" is no CFG;
# b = NaN with a known a, or both NaN, is a row whose label was not recovered.
_TAB3 = [
    ("none", _NAN, _NAN, 12.99, "none"),
    *[
        (None, a / 10, (a + 1) / 10, g, "width 0.1")
        for a, g in enumerate([6.33, 5.21, 7.70, 9.39, 10.39, 10.59, 11.06, 11.38, 11.64, 12.20])
    ],
    (None, 0.0, 1.0, 10.79, "wider"),
    (None, 0.0, _NAN, 6.62, "wider"),
    (None, 0.0, _NAN, 8.03, "wider"),
    (None, 0.0, _NAN, 9.19, "wider"),
    (None, 0.0, _NAN, 10.14, "wider"),
    (None, 0.1, 0.3, 3.54, "wider"),
    (None, _NAN, _NAN, 4.16, "wider"),
    (None, 0.1, 0.5, 2.82, "wider"),
    (None, 0.1, 0.6, 2.80, "wider"),
    (None, 0.1, 0.7, 2.86, "wider"),
    (None, _NAN, _NAN, 2.97, "wider"),
]


@dataclass(frozen=True)
class Interval:
    """A CFG interval: guidance for t in [``a``, ``b``] (both ends inclusive; t = 0 noise),
    or no guidance (:data:`NO_GUIDANCE`, ``a = b = None``). The one form of the idea from
    the config to the table and claim 7; its spellings at the file boundaries are its own
    methods: the config entry and the rule's params (:meth:`from_conf`, :meth:`param`),
    the setting id (:meth:`setting_id`), the metrics columns ``cfg_a`` / ``cfg_b``
    (:meth:`columns`, :meth:`from_columns`) and the table's label (:meth:`label`). The ends
    keep the config's numbers as written (an int stays an int in the metrics row)."""

    a: float | None = None
    b: float | None = None

    @classmethod
    def from_conf(cls, entry: Any) -> Interval:
        """A config entry of ``sweeps.cfg_interval.intervals`` (``"none"`` or ``[a, b]``) or
        a setting's ``interval`` param (None or ``[a, b]``)."""
        if entry is None or (isinstance(entry, str) and entry == "none"):
            return NO_GUIDANCE
        a, b = entry
        return cls(a, b)

    @classmethod
    def from_columns(cls, a: float | None, b: float | None) -> Interval:
        """From a row's ``cfg_a`` / ``cfg_b`` (both NaN or None: no guidance); one end
        missing is a ``ValueError``."""
        missing = [_missing(a), _missing(b)]
        if all(missing):
            return NO_GUIDANCE
        if any(missing):
            raise ValueError(f"a CFG interval needs both ends or neither, got ({a}, {b})")
        return cls(a, b)

    @property
    def guided(self) -> bool:
        return self.a is not None

    def param(self) -> list | None:
        """The setting's ``interval`` param (Snakemake compares params between runs)."""
        return [self.a, self.b] if self.guided else None

    def setting_id(self) -> str:
        """The ``{setting}`` wildcard: ``"none"`` or ``"<a>-<b>"`` (``:g``)."""
        return f"{fmt_g(self.a)}-{fmt_g(self.b)}" if self.guided else "none"

    def covers(self, t: float, tol: float = TIME_TOL) -> bool:
        """Whether step time ``t`` is guided (a <= t <= b up to ``tol``; never unguided)."""
        return self.guided and self.a - tol <= t <= self.b + tol

    def columns(self) -> dict[str, float]:
        """The metrics row's ``cfg_a`` / ``cfg_b`` (NaN for no guidance)."""
        return {"cfg_a": self.a, "cfg_b": self.b} if self.guided else {"cfg_a": _NAN, "cfg_b": _NAN}

    def label(self) -> str:
        """The table's ``interval``: ``"[a, b]"`` with one decimal, ``"none"``."""
        return f"[{float(self.a):.1f}, {float(self.b):.1f}]" if self.guided else "none"

    def text(self) -> str:
        """The claim's spelling: ``"[a, b]"`` (``:g``)."""
        return f"[{self.a:g}, {self.b:g}]" if self.guided else "none"


#: no classifier-free guidance: the conditional model alone
NO_GUIDANCE = Interval()


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def interval_label(a: float | None, b: float | None) -> str | None:
    """:meth:`Interval.label` of the ends ``a``, ``b``; ``None`` when only one is known (a
    label the paper's extraction lost)."""
    try:
        return Interval.from_columns(a, b).label()
    except ValueError:
        return None


def _group(a: float, b: float) -> str:
    if math.isnan(a) and math.isnan(b):
        return "none"
    if math.isclose(b - a, 0.1, abs_tol=1e-6):
        return "width 0.1"
    return "wider"


def table3(sweeps: pd.DataFrame, replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tab. 3, CFG applied only for t in [cfg_a, cfg_b]: columns ``interval`` ("[a, b]" or
    "none" when both are NaN/None, i.e. no CFG), ``cfg_a``, ``cfg_b``, ``cfg_scale``,
    ``group`` ("none" / "width 0.1" / "wider"), the seed aggregate and ``paper_gfid``
    (matched on (a, b) among the paper's rows whose label is known) and the paired difference
    to no guidance (``PAIRED_COLUMNS``; ``replicates`` optional). Sorted: no CFG, then the
    width-0.1 intervals by a, then the wider ones by (a, b)."""
    cols = ["cfg_a", "cfg_b", "cfg_scale"]
    rows = tab.select(sweeps, "cfg_interval", cols)
    for c in ("cfg_a", "cfg_b"):
        rows[c] = tab.num(rows[c])
    agg = tab.aggregate_seeds(rows, cols)
    agg["cfg_a"] = agg["cfg_a"].astype(float)
    agg["cfg_b"] = agg["cfg_b"].astype(float)
    bad = agg[agg["cfg_a"].isna() != agg["cfg_b"].isna()]
    if len(bad):
        raise ValueError(
            f"table3: settings {bad['setting'].tolist()} give only one end of the CFG interval; "
            f"give both cfg_a and cfg_b, or neither for 'no CFG'"
        )
    agg["interval"] = [
        Interval.from_columns(a, b).label() for a, b in zip(agg["cfg_a"], agg["cfg_b"], strict=True)
    ]
    agg["group"] = [_group(a, b) for a, b in zip(agg["cfg_a"], agg["cfg_b"], strict=True)]
    ref = paper_rows()
    ref = ref[ref["label_known"]]
    gfid = []
    for _, r in agg.iterrows():
        if r["interval"] == NO_GUIDANCE.label():
            hit = ref[ref["interval"] == NO_GUIDANCE.label()]
        else:
            hit = ref[
                np.isclose(ref["cfg_a"], r["cfg_a"], atol=1e-6)
                & np.isclose(ref["cfg_b"], r["cfg_b"], atol=1e-6)
            ]
        gfid.append(float(hit["gfid"].iloc[0]) if len(hit) else math.nan)
    agg["paper_gfid"] = gfid
    none = tab.reference_of(agg, agg["interval"] == NO_GUIDANCE.label())
    agg = tab.paired_columns(agg, rows, [none] * len(agg), "no CFG", replicates)
    agg["_g"] = agg["group"].map({"none": 0, "width 0.1": 1, "wider": 2})
    agg = agg.sort_values(["_g", "cfg_a", "cfg_b"], na_position="first").drop(columns="_g")
    return tab.order_columns(agg, ["interval", "cfg_a", "cfg_b", "cfg_scale", "group"])


def paper_rows() -> pd.DataFrame:
    """Paper Tab. 3 (CFG on [a, b] only, LightningDiT-B/1, scale 2.5): ``interval`` (label,
    ``"none"`` for no CFG, ``None`` where the paper's label was not recovered), ``cfg_a``,
    ``cfg_b`` (NaN where unknown), ``gfid``, ``column`` ("none" / "width 0.1" / "wider") and
    ``label_known`` (bool), in the paper's order."""
    rows = []
    for label, a, b, g, col in _TAB3:
        lab = label
        if lab is None and not (math.isnan(a) or math.isnan(b)):
            lab = interval_label(a, b)
        rows.append(
            {
                "interval": lab,
                "cfg_a": a,
                "cfg_b": b,
                "gfid": g,
                "column": col,
                "label_known": lab is not None,
            }
        )
    return pd.DataFrame(rows)


@register
class CfgInterval(Sweep):
    """Tab. 3: ``steps`` uniform Euler steps, classifier-free guidance of ``scale`` only for
    t in ``interval`` = [a, b] (None: no CFG, the conditional model alone)."""

    kind = "cfg_interval"
    table_name = "table3"

    def _settings(self) -> list[tuple[str, Setting]]:
        return [
            (
                iv.setting_id(),
                {
                    "model": self.conf["model"],
                    "interval": iv.param(),
                    "scale": self.conf["scale"],
                    "steps": self.conf["steps"],
                },
            )
            for iv in map(Interval.from_conf, self.conf["intervals"])
        ]

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        return {
            **Interval.from_conf(setting.get("interval")).columns(),
            "cfg_scale": float(setting["scale"]),
            "steps": int(setting["steps"]),
        }

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        """Runs of guided / unguided steps on the uniform grid t_k = k / n; step k is guided
        when a <= t_k <= b up to ``TIME_TOL`` (as :meth:`ModelVelocity.guided_at`). An
        unguided step of a guided setting is the conditional model's, as in ``none``."""
        n, model = int(setting["steps"]), setting["model"]
        interval = Interval.from_conf(setting.get("interval"))
        guided = [interval.covers(k / n) for k in range(n)]
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
        interval = Interval.from_conf(setting.get("interval"))
        if not interval.guided:
            return super().velocity(setting, models, num_classes)
        from navref.sampling import ModelVelocity

        return ModelVelocity(
            models[setting["model"]],
            num_classes,
            mode="cfg",
            cfg_scale=float(setting["scale"]),
            cfg_interval=(interval.a, interval.b),
        )

    def table(
        self,
        sweeps: pd.DataFrame,
        tau_map: Mapping[float, float],
        replicates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        return table3(sweeps, replicates)

    def paper_rows(self) -> pd.DataFrame:
        return paper_rows()

    plot_columns = ("interval",)

    def plot_labels(self, table: pd.DataFrame) -> list[str]:
        """The CFG interval's label."""
        return [str(i) for i in table["interval"]]
