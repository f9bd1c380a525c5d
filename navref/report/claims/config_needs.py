"""What each claim needs from a config to be decidable (issue 15, item 8).

One function per claim takes the schema-validated config (defaults filled in, as the workflow
sees it) and returns the unmet needs as messages naming the key and the fix; an empty list
means the config produces every input the claim's criterion reads. Claims 9-11 keep theirs
beside the judge (:func:`.oracle_training.needs`, :func:`.settledness.needs`,
:func:`.generalization.needs`); claims 1-8 have theirs here, next to the constants of their
criteria. Where a criterion depends on the measured split time, which a config cannot know,
absolute settings count against ``report.paper_split`` (the split the config expects) and
relative ones (``s<f>``) always do. :func:`unmet_needs` gathers them for every claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from navref import paper
from navref.analysis.split_times import relative_factor
from navref.config import t_grid
from navref.config_relations import model_size
from navref.report.claims import generalization, oracle_training, settledness
from navref.report.claims.generalization import taus_at_least
from navref.report.claims.models import MIN_WINDOW_POINTS
from navref.report.claims.timestep_shift import HIGH_EXTREME_S, LOW_EXTREME_S, MILD_S
from navref.report.claims.timestep_shift import TOL as SHIFT_TOL
from navref.report.claims.verdict import T_HI
from navref.sweeps.cfg_interval import Interval
from navref.sweeps.stage_swap import SIZE_ORDER
from navref.sweeps.timestep_shift import paper_shift_of

Config = Mapping[str, Any]
TOL = 1e-9
#: claim 8 judges the refinement window [t_s, 0.9] of each space; a config must leave
#: ``MIN_WINDOW_POINTS`` loss-curve grid points there for a split as late as this (the
#: digits spaces split at 0.36-0.82: configs/examples/aligned_vae.yaml's aligned space at 0.82)
CLAIM8_SPLIT_REACH = 0.8


def _get(config: Config, *keys: str) -> Any:
    for k in keys:
        config = (config or {}).get(k) if isinstance(config, Mapping) else None
    return config


def _paired_noise(config: Config, claim_id: int) -> list[str]:
    """Claims 5-7 compare FIDs of settings sharing noise: two seeds give a paired interval;
    one seed needs ``evaluation.bootstrap_replicates`` > 0 (the per-sample paired bootstrap)
    once the schema has that key; before it, the single-run margin of :mod:`.paired`."""
    seeds = _get(config, "sweeps", "seeds") or []
    if len(seeds) >= 2:
        return []
    reps = _get(config, "evaluation", "bootstrap_replicates")
    if reps is None or reps > 0:  # key not in the schema yet: the single-run margin decides
        return []
    return [f"claim {claim_id}: one seed needs evaluation.bootstrap_replicates > 0 (or 2+ seeds)"]


def _splits(config: Config) -> float | None:
    return generalization.expected_split(config)


def needs_claim1(config: Config) -> list[str]:
    syn = _get(config, "oracle", "synthetic") or {}
    out = []
    for key in ("dims", "sizes"):
        if len(set(syn.get(key) or [])) < 2:
            out.append(f"claim 1: oracle.synthetic.{key} needs at least two values")
    return out


def needs_claim2(config: Config) -> list[str]:
    if not config.get("latent_spaces"):
        return ["claim 2: no latent_spaces (the objective curves of Fig. 2)"]
    return []


def needs_claim3(config: Config) -> list[str]:
    models = config.get("models") or {}
    cfm = {m: v for m, v in models.items() if (v.get("train") or {}).get("target", "cfm") == "cfm"}
    sizes: dict[str, set] = {}
    for v in cfm.values():
        sizes.setdefault(v.get("space"), set()).add(str(model_size(v)))  # arch: dict or name
    two_sizes = any(len(s) >= 2 for s in sizes.values())
    steps = _get(config, "probes", "loss_curves", "checkpoints") and any(
        any(
            s < (v.get("train") or {}).get("steps", 0)
            for s in v["train"].get("checkpoint_steps", [])
        )
        for v in cfm.values()
        if v.get("train")
    )
    if not cfm:
        return ["claim 3: no model trained on the CFM target"]
    if not (two_sizes or steps):
        return ["claim 3: needs two sizes in a space, or step checkpoints of a CFM model"]
    return []


def needs_claim4(config: Config) -> list[str]:
    mixed = _get(config, "probes", "mixed", "taus") or []
    unseen = _get(config, "probes", "unseen", "taus") or []
    expected = _splits(config)
    early = [
        t
        for t in mixed
        if (relative_factor(t) is not None and 0 < relative_factor(t) < 1)
        or (not isinstance(t, str) and expected is not None and 0 < float(t) < expected)
    ]
    late = taus_at_least(mixed, 2.0, expected)
    out = []
    if not early:
        out.append("claim 4: probes.mixed.taus needs a tau in (0, t_s), e.g. s0.5")
    if not late:
        out.append("claim 4: probes.mixed.taus needs a tau >= 2 t_s below 1, e.g. s2.0")
    if late and not set(map(str, late)) & set(map(str, unseen)):
        out.append(f"claim 4: probes.unseen.taus needs a late mixed tau {late} (control)")
    return out


def needs_claim5(config: Config) -> list[str]:
    conf = _get(config, "sweeps", "stage_swap") or {}
    models = config.get("models") or {}
    pairs = [tuple(p) for p in conf.get("pairs") or []]
    size = {m: str(_get(models, m, "arch", "size")) for p in pairs for m in p}
    rank = sorted(
        set(size.values()), key=lambda s: (SIZE_ORDER.index(s) if s in SIZE_ORDER else -1, s)
    )
    out = []
    if len(rank) < 2:
        out.append("claim 5: sweeps.stage_swap.pairs needs models of two sizes")
    else:
        role = {
            m: "large" if s == rank[-1] else "small" if s == rank[0] else "mid"
            for m, s in size.items()
        }
        have = {(role[a], role[b]) for a, b in pairs}
        want = {("large", "large"), ("small", "large"), ("large", "small")}
        if not want <= have:
            out.append(f"claim 5: sweeps.stage_swap.pairs lacks {sorted(want - have)} (roles)")
    if not conf.get("taus"):
        out.append("claim 5: sweeps.stage_swap.taus is empty")
    return out + _paired_noise(config, 5)


def _paper_time(end: float | str, expected: float | None) -> float | None:
    """A config's time in the paper's time: ``s<f>`` is f x the paper's split; a number
    maps at the ``expected`` split (:func:`navref.paper.to_paper`; None without one)."""
    factor = relative_factor(end)
    if factor is not None:
        return factor * paper.PAPER_SPLIT
    if float(end) == 0.0:
        return 0.0  # t = 0 at every split
    return paper.to_paper(float(end), expected) if expected is not None else None


def _paper_shifts(config: Config) -> list[float]:
    """The paper's s of each configured shift: ``p<f>`` is f; a number maps at the expected
    split (:func:`navref.paper.shift_to_paper`), or counts as itself without one."""
    out = []
    expected = _splits(config)
    for spec in _get(config, "sweeps", "timestep_shift", "shifts") or []:
        f = paper_shift_of(spec)
        if f is None:
            f = paper.shift_to_paper(float(spec), expected) if expected else float(spec)
        out.append(f)
    return out


def needs_claim6(config: Config) -> list[str]:
    """In the paper's s (issue 24): one standing for uniform, a mild one, both extremes."""
    shifts = _paper_shifts(config)
    out = []
    if not any(abs(s - 1) <= 1e-6 for s in shifts):
        out.append("claim 6: sweeps.timestep_shift.shifts needs p1 (the paper's uniform)")
    if not any(MILD_S[0] - SHIFT_TOL <= s < MILD_S[1] - SHIFT_TOL for s in shifts):
        out.append(
            f"claim 6: sweeps.timestep_shift.shifts needs a mild paper s in {list(MILD_S)} "
            "(e.g. p0.5)"
        )
    low = any(s <= LOW_EXTREME_S + SHIFT_TOL for s in shifts)
    if not low or not any(s >= HIGH_EXTREME_S - SHIFT_TOL for s in shifts):
        out.append(
            f"claim 6: sweeps.timestep_shift.shifts needs paper s <= {LOW_EXTREME_S} and s >= "
            f"{HIGH_EXTREME_S} (e.g. p0.1, p4)"
        )
    return out + _paired_noise(config, 6)


def needs_claim7(config: Config) -> list[str]:
    """In the paper's time (issue 24; relative ends are exact, numbers map at the expected
    split): short intervals, >= 3 of the narrowest width; wide: some [0, b] and [a, b] with
    the same end b and 0 < a <= the paper's split + width (the pairs issue 15 asks for)."""
    listed = _get(config, "sweeps", "cfg_interval", "intervals") or []
    typed = [Interval.from_conf(i) for i in listed if isinstance(i, str) or len(i) == 2]
    expected = _splits(config)
    iv = []
    for i in typed:
        if i.guided:  # per end; without an expected split an absolute t stands for itself
            a, b = (_paper_time(e, expected) for e in (i.a, i.b))
            a = float(i.a) if a is None else a
            b = float(i.b) if b is None else b
            iv.append((round(a, 6), round(b, 6)))
    out = []
    if not iv:
        return ["claim 7: sweeps.cfg_interval.intervals is empty"] + _paired_noise(config, 7)
    w = min(round(b - a, 6) for a, b in iv)
    short = [i for i in iv if abs(i[1] - i[0] - w) <= 1e-6]
    if len(short) < 3:
        out.append(f"claim 7: needs >= 3 CFG intervals of the narrowest width {w:g}")
    reach = paper.PAPER_SPLIT + w + 1e-6
    wide = [i for i in iv if i[1] - i[0] > w + 1e-6]
    zero_ends = {b for a, b in wide if a <= TOL}
    late_ends = {b for a, b in wide if TOL < a <= reach}
    if not zero_ends & late_ends:
        out.append(
            "claim 7: needs wide intervals [0, b] and [a, b] with the same b, 0 < a <= t_s + w"
        )
    return out + _paired_noise(config, 7)


def needs_claim8(config: Config) -> list[str]:
    report = config.get("report") or {}
    sem, oth = report.get("semantic_space"), report.get("other_space")
    if not sem or not oth:
        return ["claim 8: report.semantic_space and report.other_space must be set"]
    models = config.get("models") or {}
    size = {s: set() for s in (sem, oth)}
    for v in models.values():
        if v.get("space") in size and (v.get("train") or {}).get("target", "cfm") == "cfm":
            size[v["space"]].add(str(model_size(v)))  # arch: dict or a release's name
    if not size[sem] & size[oth]:
        return [f"claim 8: needs CFM models of one size on both {sem} and {oth}"]
    grid = _get(config, "probes", "loss_curves", "t_grid") or _get(config, "oracle", "t_grid")
    if grid is not None:
        inside = [t for t in t_grid(grid) if CLAIM8_SPLIT_REACH - TOL <= t <= T_HI + TOL]
        if len(inside) < MIN_WINDOW_POINTS:
            return [
                f"claim 8: the loss-curve t grid (probes.loss_curves.t_grid, else oracle.t_grid) "
                f"has {len(inside)} points in [{CLAIM8_SPLIT_REACH}, {T_HI}]; it needs "
                f"{MIN_WINDOW_POINTS} there so that a space splitting as late as "
                f"{CLAIM8_SPLIT_REACH} is judged (e.g. t_grid: {{stop: 0.99, num: 100}})"
            ]
    return []


#: what each claim needs, by claim id
NEEDS: dict[int, Callable[[Config], list[str]]] = {
    1: needs_claim1,
    2: needs_claim2,
    3: needs_claim3,
    4: needs_claim4,
    5: needs_claim5,
    6: needs_claim6,
    7: needs_claim7,
    8: needs_claim8,
    9: oracle_training.needs,
    10: settledness.needs,
    11: generalization.needs,
}


def unmet_needs(config: Config) -> dict[int, list[str]]:
    """The unmet needs of every claim (only claims with some), for a schema-validated config."""
    found = {cid: fn(config) for cid, fn in sorted(NEEDS.items())}
    return {cid: msgs for cid, msgs in found.items() if msgs}
