"""SplitTimes: one split-time lookup, one fallback, clear errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from navref.analysis.split_times import SplitTimes, is_relative, relative_factor, resolve_time


def _table(t_cond=0.4, reached=True, spaces=("z", "z"), conditional=(True, False)):
    n = len(spaces)
    return SplitTimes(
        pd.DataFrame(
            {
                "curve": ["objective"] * n + ["synthetic"],
                "space": [*spaces, None],
                "conditional": [*conditional, None],
                "t_split": [t_cond if reached else math.nan, 0.9, 0.1][:n] + [0.1],
                "reached": [reached, True][:n] + [True],
            }
        )
    )


def test_for_space_prefers_the_requested_conditioning():
    sp = _table()
    assert sp.for_space("z") == 0.4
    assert sp.for_space("z", conditional=False) == 0.9
    assert sp.spaces() == ["z"]


def test_for_space_falls_back_to_the_other_curve():
    sp = _table(spaces=("u",), conditional=(False,), t_cond=0.3)
    assert sp.for_space("u") == 0.3  # only the unconditional curve was computed


def test_by_space_is_for_space_of_every_space():
    sp = _table(spaces=("z", "u"), conditional=(True, False))
    assert sp.by_space() == {"u": 0.9, "z": 0.4}
    assert math.isnan(_table(reached=False).by_space()["z"])


def test_for_space_errors_and_nan():
    with pytest.raises(ValueError, match="no split time for latent space 'other'"):
        _table().for_space("other")
    assert math.isnan(_table(reached=False).for_space("z"))
    with pytest.raises(ValueError, match="lacks columns"):
        SplitTimes(pd.DataFrame({"curve": ["objective"]}))


def test_resolve():
    sp = _table()
    assert sp.resolve("0.25", "z") == 0.25
    assert resolve_time(0.3, None, "z") == 0.3
    assert sp.resolve("s1.5", "z") == pytest.approx(0.6)  # the conditional curve
    assert sp.resolve("s1", "z") == 0.4
    assert sp.resolve("s3", "z") == 1.0  # clipped
    assert sp.resolve(1 / 3, "z") == 0.3333  # rounded to 4 decimals
    assert is_relative("s0.5") and not is_relative("0.5") and not is_relative(0.5)
    # the one parse of "s<f>": the factor, None for an absolute spec
    assert relative_factor("s1.5") == 1.5 and relative_factor("s2") == 2.0
    assert relative_factor("0.5") is None and relative_factor(0.5) is None
    assert relative_factor("s") is None and relative_factor("s1e-3") is None
    with pytest.raises(ValueError, match="never reached"):
        _table(reached=False).resolve("s1", "z")
    with pytest.raises(ValueError, match="no split time"):
        sp.resolve("s1", "other")
    with pytest.raises(ValueError, match="needs the split-time table"):
        resolve_time("s1", None, "z")


def test_read(tmp_path):
    _table().frame.to_parquet(tmp_path / "s.parquet")
    assert SplitTimes.read(tmp_path / "s.parquet").for_space("z") == 0.4


def test_read_several_files_concatenates_them(tmp_path):
    # one file per latent space (rule oracle_split_time), read together
    frame = _table(spaces=("z", "y"), conditional=(True, True)).frame
    frame.iloc[[0]].to_parquet(tmp_path / "z.parquet")
    frame.iloc[[1]].to_parquet(tmp_path / "y.parquet")
    sp = SplitTimes.read([tmp_path / "z.parquet", tmp_path / "y.parquet"])
    assert sp.for_space("z") == 0.4 and sp.for_space("y") == 0.9
    assert sp.spaces() == ["y", "z"]
    with pytest.raises(ValueError, match="no split-time file"):
        SplitTimes.read([])


def test_space_split_times_equal_the_aggregate_rows(tmp_path):
    import logging

    from navref.analysis.oracle_runs import oracle_tables, space_split_times

    t = [0.0, 0.5, 1.0]
    curves = {
        s: pd.DataFrame({"space": s, "conditional": True, "t": t, "top1_mean": v})
        for s, v in {"a": [0.1, 0.5, 1.0], "b": [0.2, 0.95, 1.0]}.items()
    }
    syn = pd.DataFrame({"dim": 4, "size": 10, "t": t, "top1_mean": [0.1, 0.2, 0.3]})
    for s, c in curves.items():
        c.to_parquet(tmp_path / f"{s}.parquet")
    syn.to_parquet(tmp_path / "syn.parquet")
    log = logging.getLogger("test")
    out = {k: str(tmp_path / f"agg_{k}.parquet") for k in ("objective", "synthetic", "split_times")}
    oracle_tables([tmp_path / "a.parquet", tmp_path / "b.parquet"], [tmp_path / "syn.parquet"],
                  0.9, out, log)  # fmt: skip
    space_split_times([tmp_path / "a.parquet"], 0.9, str(tmp_path / "split_a.parquet"), log)
    one = SplitTimes.read(tmp_path / "split_a.parquet")
    # linear interpolation between (0.5, 0.5) and (1.0, 1.0): 0.9 at t = 0.9
    assert one.for_space("a") == pytest.approx(0.9)
    agg = SplitTimes.read(out["split_times"])
    assert agg.for_space("a") == one.for_space("a")
    with pytest.raises(ValueError, match="one space"):
        space_split_times([tmp_path / "a.parquet", tmp_path / "b.parquet"], 0.9, "x", log)
