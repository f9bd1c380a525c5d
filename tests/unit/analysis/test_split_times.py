"""SplitTimes: one split-time lookup, one fallback, clear errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from navref.analysis.split_times import SplitTimes, is_relative, resolve_time


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
    with pytest.raises(ValueError, match="never reached"):
        _table(reached=False).resolve("s1", "z")
    with pytest.raises(ValueError, match="no split time"):
        sp.resolve("s1", "other")
    with pytest.raises(ValueError, match="needs the split-time table"):
        resolve_time("s1", None, "z")


def test_read(tmp_path):
    _table().frame.to_parquet(tmp_path / "s.parquet")
    assert SplitTimes.read(tmp_path / "s.parquet").for_space("z") == 0.4
