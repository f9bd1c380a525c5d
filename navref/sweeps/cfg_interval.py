"""The sweep kind of Tab. 3, CFG interval.

An interval's ends are numbers in [0, 1] or ``"s<f>"`` = f x the split time of the swept
model's space (as the stage-swap taus), resolved at job time (:meth:`CfgInterval.resolve`)
and clipped to [0, 1]; the metrics row records the applied ends (``cfg_a``, ``cfg_b``), the
unclipped ones (``cfg_a_nominal``, ``cfg_b_nominal``), whether it was clipped
(``cfg_clipped``) and the split. Tab. 3 maps every interval to the paper's times through
the one mapping (:func:`navref.paper.to_paper`) and matches the paper's rows there. Time
convention: t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from navref import paper
from navref.analysis.split_times import is_relative, resolve_time
from navref.sweeps import table as tab
from navref.sweeps.plan import TIME_TOL, Segment, Setting, Sweep, fmt_g, register

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from navref.analysis.split_times import SplitTimes
    from navref.sampling import VelocityProvider

End = float | str

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

    a: End | None = None
    b: End | None = None

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

    @property
    def relative(self) -> bool:
        """Whether an end is relative to the split (``"s<f>"``, resolved at job time)."""
        return self.guided and (is_relative(self.a) or is_relative(self.b))

    def resolve(self, split_times: SplitTimes | None, space: str) -> tuple[Interval, Interval]:
        """(applied, nominal): the ends made absolute with the split of ``space``
        (:func:`navref.analysis.split_times.resolve_time`), clipped to [0, 1] (applied) and
        not (nominal); no guidance resolves to itself."""
        if not self.guided:
            return self, self
        nominal = [resolve_time(e, split_times, space, clip=False) for e in (self.a, self.b)]
        applied = [min(max(e, 0.0), 1.0) for e in nominal]
        return Interval(*applied), Interval(*nominal)

    def param(self) -> list | None:
        """The setting's ``interval`` param (Snakemake compares params between runs)."""
        return [self.a, self.b] if self.guided else None

    def setting_id(self) -> str:
        """The ``{setting}`` wildcard: ``"none"`` or ``"<a>-<b>"`` (numbers ``:g``, relative
        ends as written, e.g. ``"s1-s2"``)."""
        return f"{_end_text(self.a)}-{_end_text(self.b)}" if self.guided else "none"

    def covers(self, t: float, tol: float = TIME_TOL) -> bool:
        """Whether step time ``t`` is guided (a <= t <= b up to ``tol``; never unguided)."""
        return self.guided and self.a - tol <= t <= self.b + tol

    def columns(self) -> dict[str, float]:
        """The metrics row's ``cfg_a`` / ``cfg_b`` (NaN for no guidance)."""
        return {"cfg_a": self.a, "cfg_b": self.b} if self.guided else {"cfg_a": _NAN, "cfg_b": _NAN}

    def label(self) -> str:
        """The table's ``interval``: ``"[a, b]"`` (one decimal where that is exact, else 3
        significant digits), ``"none"``."""
        return f"[{_end_label(self.a)}, {_end_label(self.b)}]" if self.guided else "none"

    def text(self) -> str:
        """The claim's spelling: ``"[a, b]"`` (``:g``; relative ends as written)."""
        return f"[{_end_text(self.a)}, {_end_text(self.b)}]" if self.guided else "none"


#: no classifier-free guidance: the conditional model alone
NO_GUIDANCE = Interval()


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _end_text(x: End) -> str:
    return str(x) if isinstance(x, str) else fmt_g(x)


def _end_label(x: End) -> str:
    if isinstance(x, str):
        return x
    x = float(x)
    return f"{x:.1f}" if math.isclose(x, round(x, 1), abs_tol=1e-9) else f"{x:.3g}"


def interval_label(a: float | None, b: float | None) -> str | None:
    """:meth:`Interval.label` of the ends ``a``, ``b``; ``None`` when only one is known (a
    label the paper's extraction lost)."""
    try:
        return Interval.from_columns(a, b).label()
    except ValueError:
        return None


#: matching tolerance in the paper's time (its rows are 0.1 apart; our ends are rounded to
#: 4 decimals before the mapping)
PAPER_T_TOL = 1e-3


def _group(pa: float, pb: float, guided: bool) -> str:
    """The row's group by its width in the paper's time (the paper's short intervals are
    0.1 wide = 1 x its split)."""
    if not guided:
        return "none"
    if math.isnan(pa) or math.isnan(pb):
        return "unmapped"
    if math.isclose(pb - pa, 0.1, abs_tol=PAPER_T_TOL):
        return "width 0.1"
    return "narrower" if pb - pa < 0.1 else "wider"


def paper_times(agg: pd.DataFrame) -> pd.DataFrame:
    """``paper_a``, ``paper_b``: the unclipped ends of each row (``cfg_a_nominal``,
    ``cfg_b_nominal``, else ``cfg_a``, ``cfg_b``) in the paper's time at the row's
    ``split_time`` (:func:`navref.paper.to_paper`; NaN without a split or guidance)."""
    out = []
    for _, r in agg.iterrows():
        a = r.get("cfg_a_nominal", r["cfg_a"])
        b = r.get("cfg_b_nominal", r["cfg_b"])
        ts = r.get("split_time", math.nan)
        if any(_missing(x) for x in (a, b, ts)):
            out.append((math.nan, math.nan))
        else:
            out.append((paper.to_paper(float(a), float(ts)), paper.to_paper(float(b), float(ts))))
    return pd.DataFrame(out, columns=["paper_a", "paper_b"], index=agg.index)


#: the columns a CFG setting's metrics row may lack (runs before 2026-12-08, issue 24)
_OPTIONAL = ("cfg_a_nominal", "cfg_b_nominal", "cfg_clipped", "cfg_spec", "split_time")


def table3(sweeps: pd.DataFrame, replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tab. 3, CFG applied only for t in [cfg_a, cfg_b]: columns ``interval`` ("[a, b]" of
    the applied ends, "none" when both are NaN/None, i.e. no CFG), ``cfg_spec`` (the
    config's entry), ``cfg_a``, ``cfg_b``, ``cfg_clipped``, ``split_time``, ``paper_a``,
    ``paper_b`` (:func:`paper_times`), ``paper_interval``, ``cfg_scale`` (NaN without
    guidance), ``group`` (by the paper width: "none" / "narrower" / "width 0.1" / "wider"),
    the seed aggregate and ``paper_gfid`` (the paper's row at (paper_a, paper_b) among those
    whose label is known, within ``PAPER_T_TOL``; none for a clipped interval, whose paper end
    has no counterpart at our split) and the paired difference to no guidance
    (``PAIRED_COLUMNS``; ``replicates`` optional). Sorted: no CFG, then by group and (a, b).
    (Before 2026-12-08, issue 24: matched the paper's rows on absolute t.)"""
    cols = ["cfg_a", "cfg_b", "cfg_scale"]
    rows = tab.select(sweeps, "cfg_interval", cols)
    for c in _OPTIONAL:
        if c not in rows.columns:
            rows[c] = None
    for c in ("cfg_a", "cfg_b", "cfg_a_nominal", "cfg_b_nominal", "split_time"):
        rows[c] = tab.num(rows[c])
    rows["cfg_a_nominal"] = rows["cfg_a_nominal"].fillna(rows["cfg_a"])
    rows["cfg_b_nominal"] = rows["cfg_b_nominal"].fillna(rows["cfg_b"])
    rows["cfg_clipped"] = rows["cfg_clipped"].fillna(False).astype(bool)
    agg = tab.aggregate_seeds(rows, [*cols, *_OPTIONAL])
    for c in ("cfg_a", "cfg_b", "cfg_a_nominal", "cfg_b_nominal", "split_time"):
        agg[c] = agg[c].astype(float)
    agg["cfg_clipped"] = agg["cfg_clipped"].astype(bool)
    bad = agg[agg["cfg_a"].isna() != agg["cfg_b"].isna()]
    if len(bad):
        raise ValueError(
            f"table3: settings {bad['setting'].tolist()} give only one end of the CFG interval; "
            f"give both cfg_a and cfg_b, or neither for 'no CFG'"
        )
    agg["interval"] = [
        Interval.from_columns(a, b).label() for a, b in zip(agg["cfg_a"], agg["cfg_b"], strict=True)
    ]
    guided = agg["cfg_a"].notna()
    agg["cfg_scale"] = agg["cfg_scale"].astype(float).where(guided)  # no guidance: no scale
    agg = pd.concat([agg, paper_times(agg)], axis=1)
    agg["paper_interval"] = [
        interval_label(round(a, 3), round(b, 3)) if g else NO_GUIDANCE.label()
        for a, b, g in zip(agg["paper_a"], agg["paper_b"], guided, strict=True)
    ]
    agg["group"] = [
        _group(a, b, g) for a, b, g in zip(agg["paper_a"], agg["paper_b"], guided, strict=True)
    ]
    ref = paper_rows()
    ref = ref[ref["label_known"]]
    gfid = []
    for _, r in agg.iterrows():
        if r["interval"] == NO_GUIDANCE.label():
            hit = ref[ref["interval"] == NO_GUIDANCE.label()]
        elif r["cfg_clipped"]:
            hit = ref.iloc[:0]
        else:
            hit = ref[
                np.isclose(ref["cfg_a"], r["paper_a"], atol=PAPER_T_TOL)
                & np.isclose(ref["cfg_b"], r["paper_b"], atol=PAPER_T_TOL)
            ]
        gfid.append(float(hit["gfid"].iloc[0]) if len(hit) else math.nan)
    agg["paper_gfid"] = gfid
    none = tab.reference_of(agg, agg["interval"] == NO_GUIDANCE.label())
    agg = tab.paired_columns(agg, rows, [none] * len(agg), "no CFG", replicates)
    order = {"none": 0, "narrower": 1, "width 0.1": 2, "wider": 3, "unmapped": 4}
    agg["_g"] = agg["group"].map(order)
    agg = agg.sort_values(["_g", "cfg_a", "cfg_b"], na_position="first").drop(columns="_g")
    first = ["interval", "cfg_spec", "cfg_a", "cfg_b", "cfg_clipped", "split_time", "paper_a"]
    first += ["paper_b", "paper_interval", "cfg_scale", "group"]
    return tab.order_columns(agg, first)


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
    t in ``interval`` = [a, b] (None: no CFG, the conditional model alone; ends may be
    relative to the split, ``"s<f>"``, see the module docstring)."""

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

    def resolve(self, setting: Mapping[str, Any], split_times: SplitTimes, space: str) -> Setting:
        """The interval's ends made absolute (:meth:`Interval.resolve`): ``interval`` the
        applied ends (clipped to [0, 1]), ``interval_nominal`` the unclipped ones,
        ``interval_spec`` the config's entry."""
        iv = Interval.from_conf(setting.get("interval"))
        applied, nominal = iv.resolve(split_times, space)
        return {
            **setting,
            "interval": applied.param(),
            "interval_nominal": nominal.param(),
            "interval_spec": iv.param(),
        }

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        applied = Interval.from_conf(setting.get("interval"))
        nominal = Interval.from_conf(setting.get("interval_nominal", setting.get("interval")))
        spec = Interval.from_conf(setting.get("interval_spec", setting.get("interval")))
        out = {
            **applied.columns(),
            "cfg_a_nominal": nominal.columns()["cfg_a"],
            "cfg_b_nominal": nominal.columns()["cfg_b"],
            "cfg_clipped": applied != nominal,
            "cfg_spec": spec.text(),
            "cfg_scale": float(setting["scale"]),
            "steps": int(setting["steps"]),
        }
        if split_time is not None:
            out["split_time"] = split_time
        return out

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        """Runs of guided / unguided steps on the uniform grid t_k = k / n; step k is guided
        when a <= t_k <= b up to ``TIME_TOL`` (as :meth:`ModelVelocity.guided_at`). An
        unguided step of a guided setting is the conditional model's, as in ``none``. An
        interval with a relative end (unresolved) is one segment named by its spec: which
        steps it guides is known only at job time, so it shares no step with another
        setting."""
        n, model = int(setting["steps"]), setting["model"]
        interval = Interval.from_conf(setting.get("interval"))
        if interval.relative:
            velocity = ("cfg-relative", model, float(setting["scale"]), interval.text())
            return [Segment(("uniform", n), 0, n, velocity)]
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
