"""The sweep registry (Tab. 1-3): settings from the schema-validated config, grids, info,
velocity providers, tables and the paper's rows."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO
from snakemake.utils import validate

from navref.analysis.split_times import SplitTimes
from navref.evaluation import concat_metrics, gather_metrics
from navref.sampling import ModelVelocity, Piecewise
from navref.sweeps import cfg_interval, plan, stage_swap, timestep_shift
from navref.sweeps.sampling import sample_set


def _conf(sweeps: dict) -> dict:
    """The ``sweeps`` section of the default config with ``sweeps`` replaced, validated (so
    the schema's defaults are filled in)."""
    conf = yaml.safe_load((REPO / "config.yaml").read_text())
    conf = {**copy.deepcopy(conf), "sweeps": sweeps}
    validate(conf, str(REPO / "schemas" / "config.schema.yaml"))
    return conf["sweeps"]


def test_registry():
    assert plan.kinds() == ["stage_swap", "timestep_shift", "cfg_interval"]
    assert [plan.REGISTRY[k].table_name for k in plan.kinds()] == ["table1", "table2", "table3"]
    with pytest.raises(ValueError, match="unknown sweep 'nope'"):
        plan.get("nope", {})
    assert plan.get("cfg_interval", {}).settings() == {}  # not configured: no jobs


def test_settings_take_the_schema_defaults():
    conf = _conf(
        {
            "stage_swap": {"taus": ["s0.5", 0.2], "pairs": [["a", "b"]]},
            "timestep_shift": {"model": "m", "shifts": [4, 0.5]},
            "cfg_interval": {"model": "m", "intervals": ["none", [0.1, 0.25]]},
        }
    )
    assert plan.get("stage_swap", conf).settings() == {
        "taus0.5_a-b": {"tau": "s0.5", "stage1": "a", "stage2": "b", "steps_per_stage": 25},
        "tau0.2_a-b": {"tau": "0.2", "stage1": "a", "stage2": "b", "steps_per_stage": 25},
    }
    assert plan.get("timestep_shift", conf).settings() == {
        "s4": {"model": "m", "shift": 4, "steps": 50},
        "s0.5": {"model": "m", "shift": 0.5, "steps": 50},
    }
    cfg_interval = plan.get("cfg_interval", conf)
    assert cfg_interval.settings() == {
        "none": {"model": "m", "interval": None, "scale": 2.5, "steps": 50},
        "0.1-0.25": {"model": "m", "interval": [0.1, 0.25], "scale": 2.5, "steps": 50},
    }
    assert cfg_interval.models(cfg_interval.settings()["none"]) == ["m"]
    swap = plan.get("stage_swap", conf)
    assert swap.model_roles(swap.settings()["tau0.2_a-b"]) == {"stage1": "a", "stage2": "b"}


def test_default_config_job_count():
    conf = _conf(yaml.safe_load((REPO / "config.yaml").read_text())["sweeps"])
    counts = {k: len(plan.get(k, conf).settings()) for k in plan.kinds()}
    assert counts == {"stage_swap": 8, "timestep_shift": 8, "cfg_interval": 14}  # issue 24


def _splits(t=0.4):
    import pandas as pd

    return SplitTimes(
        pd.DataFrame(
            {"curve": ["objective"], "space": ["z"], "conditional": [True],
             "t_split": [t], "reached": [True]}
        )
    )  # fmt: skip


def test_grids_and_info():
    swap = plan.REGISTRY["stage_swap"]({})
    setting = swap.resolve({"tau": "s0.5", "steps_per_stage": 25}, _splits(), "z")
    assert setting["tau"] == 0.2
    grid = swap.grid(setting)
    assert len(grid) == 51 and float(grid[25]) == pytest.approx(0.2)
    assert swap.info(setting, grid, None) == {"tau": 0.2, "steps": 50}

    shift = plan.REGISTRY["timestep_shift"]({})
    s, n = 3.0, 10
    grid = shift.grid({"shift": s, "steps": n})
    t_n = np.linspace(0, 1, n + 1)
    np.testing.assert_allclose(grid.numpy(), s * t_n / (1 + (s - 1) * t_n), atol=1e-12)
    info = shift.info({"shift": 1.0, "steps": 50}, shift.grid({"shift": 1.0, "steps": 50}), 0.1)
    assert info["share_below_transition"] == pytest.approx(0.22)  # paper Tab. 2, s = 1, t <= 0.2
    assert "split_time" not in shift.info({"shift": 1.0, "steps": 5}, grid, None)

    cfg = plan.REGISTRY["cfg_interval"]({})
    setting = {"interval": None, "scale": 2.5, "steps": 5}
    info = cfg.info(setting, cfg.grid(setting), None)
    assert math.isnan(info["cfg_a"]) and math.isnan(info["cfg_b"]) and len(cfg.grid(setting)) == 6
    info = cfg.info({**setting, "interval": [0.1, 0.3]}, cfg.grid(setting), None)
    assert (info["cfg_a"], info["cfg_b"], info["cfg_scale"]) == (0.1, 0.3, 2.5)


def _model(value):
    return lambda x, t, y: torch.full_like(x, value)


def test_velocity_providers():
    models = {"a": _model(1.0), "b": _model(2.0)}
    x, y = torch.zeros(2, 1, 2, 2), torch.zeros(2, dtype=torch.long)
    swap = plan.REGISTRY["stage_swap"]({})
    v = swap.velocity({"tau": 0.3, "stage1": "a", "stage2": "b"}, models, 3)
    assert isinstance(v, Piecewise)
    assert float(v(x, 0.1, y)[0, 0, 0, 0]) == 1.0 and float(v(x, 0.5, y)[0, 0, 0, 0]) == 2.0
    assert swap.velocity({"tau": 0.0, "stage1": "a", "stage2": "b"}, models, 3).model is models["b"]

    cfg = plan.REGISTRY["cfg_interval"]({})
    plain = cfg.velocity({"model": "a", "interval": None, "scale": 2.5}, models, 3)
    assert isinstance(plain, ModelVelocity) and plain.mode == "cond"
    guided = cfg.velocity({"model": "a", "interval": [0.1, 0.3], "scale": 2.5}, models, 3)
    assert guided.mode == "cfg" and guided.cfg_interval == (0.1, 0.3) and guided.cfg_scale == 2.5
    assert guided.guided_at(0.2) and not guided.guided_at(0.5)

    shift = plan.REGISTRY["timestep_shift"]({}).velocity({"model": "b"}, models, 3)
    assert shift.mode == "cond" and shift.model is models["b"]


def test_paper_rows():
    assert plan.REGISTRY["stage_swap"]({}).paper_rows().equals(stage_swap.paper_rows())
    assert plan.REGISTRY["timestep_shift"]({}).paper_rows().equals(timestep_shift.paper_rows())
    assert plan.REGISTRY["cfg_interval"]({}).paper_rows().equals(cfg_interval.paper_rows())


def test_gather_metrics(tmp_path):
    import pandas as pd

    paths = []
    for i, (kind, setting) in enumerate([("stage_swap", "tau0.2_a-b"), ("cfg_interval", "none")]):
        paths.append(tmp_path / f"{i}.parquet")
        pd.DataFrame([{"sweep": kind, "setting": setting, "seed": 0, "fid": 1.0 + i}]).to_parquet(
            paths[-1]
        )
    meta = {
        "stage_swap/tau0.2_a-b": {"stage1": "a", "stage2": "b", "stage1_size": "tiny",
                                  "stage2_size": "small"},
        "cfg_interval/none": {"model": "m", "model_size": "small"},
    }  # fmt: skip
    gather_metrics(paths, meta, tmp_path / "sweeps.parquet")
    out = pd.read_parquet(tmp_path / "sweeps.parquet")
    assert out["fid"].tolist() == [1.0, 2.0]
    assert out["stage2_size"].tolist()[0] == "small" and out["model"].tolist()[1] == "m"
    assert pd.isna(out["model"].iloc[0]) and pd.isna(out["stage1"].iloc[1])


def test_concat_metrics_is_gathering_every_setting_at_once(tmp_path):
    """metrics/sweeps.parquet (rule sweep_tables) is the per-sweep tables (rule sweep_metrics)
    one after the other: the same bytes as gathering every setting's rows in one go, the
    gathering it replaced (columns one sweep lacks are missing in its rows)."""
    import pandas as pd

    settings = [("stage_swap", "tau0.2_a-b"), ("stage_swap", "tau0.2_b-a"),
                ("timestep_shift", "shift0.5"), ("cfg_interval", "none")]  # fmt: skip
    meta, paths = {}, {}
    for i, (kind, setting) in enumerate(settings):
        path = tmp_path / f"{i}.parquet"
        row = {"sweep": kind, "setting": setting, "seed": 0, "fid": 1.5 + i, "nfe": 10 * i}
        pd.DataFrame([row, {**row, "seed": 1}]).to_parquet(path)
        paths.setdefault(kind, []).append(path)
        roles = {"stage1": "a", "stage2": "b"} if kind == "stage_swap" else {"model": "m"}
        meta[f"{kind}/{setting}"] = {**roles, **{f"{r}_size": "tiny" for r in roles}}
    for kind, kind_paths in paths.items():
        gather_metrics(kind_paths, meta, tmp_path / f"{kind}.parquet")
    concat_metrics([tmp_path / f"{k}.parquet" for k in paths], tmp_path / "sweeps.parquet")
    gather_metrics(sum(paths.values(), []), meta, tmp_path / "at_once.parquet")
    assert (tmp_path / "sweeps.parquet").read_bytes() == (tmp_path / "at_once.parquet").read_bytes()


class _Space:
    """A stand-in latent space: 3 classes of (1, 2, 2) latents, decoded to uint8 by a clip."""

    stats = {"num_classes": 3, "shape": [0, 1, 2, 2]}

    def decode(self, z):
        img = (z.clamp(-1, 1) * 127.5 + 127.5).round().to(torch.uint8)
        return img.permute(0, 2, 3, 1).numpy()


def test_sample_set_refuses_non_finite_latents():
    """A model that diverges for one sample stops the job naming that sample, instead of
    writing its NaN latents decoded to plausible-looking uint8 images."""

    def diverging(x, t, y):
        v = torch.zeros_like(x)
        v[y == 2] = float("nan")  # every third sample: 2, 5, ...
        return v

    sweep = plan.REGISTRY["timestep_shift"]({})
    setting = {"model": "m", "shift": 1.0, "steps": 4}
    with pytest.raises(ValueError, match=r"sampled latents: item 2 "):
        sample_set(sweep, setting, {"m": diverging}, _Space(), 6, 0, "cpu", batch_size=4)
    images, labels, info = sample_set(
        sweep, setting, {"m": _model(0.0)}, _Space(), 6, 0, "cpu", batch_size=4
    )
    assert images.shape == (6, 2, 2, 1) and labels.tolist() == [0, 1, 2, 0, 1, 2]


def test_a_repeated_setting_is_an_error_not_a_silent_overwrite():
    conf = _conf({"cfg_interval": {"model": "tiny", "intervals": ["none", [0.1, 0.2], [0.1, 0.2]]}})
    with pytest.raises(ValueError, match=r"sweeps.cfg_interval: setting '0.1-0.2' is listed twice"):
        plan.get("cfg_interval", conf).settings()
    conf = _conf({"timestep_shift": {"model": "tiny", "shifts": [0.5, 1.0]}})
    assert list(plan.get("timestep_shift", conf).settings()) == ["s0.5", "s1"]


def test_only_the_report_imports_the_report():
    """The report imports the sweeps, never the reverse: no navref module outside
    navref/report imports navref.report (lazily or not)."""
    import re

    pattern = re.compile(r"^\s*(from navref\.report\b|from navref import report\b|import navref\.report\b)", re.M)  # fmt: skip
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "navref").rglob("*.py")
        if "report" not in p.relative_to(REPO / "navref").parts[:1]
        and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_the_registry_is_the_only_list_of_kinds():
    """The kinds are listed once, by the registry (navref/sweeps/__init__.py imports their
    modules in its order): no other module of navref, rule or script spells them as a list."""
    import re

    assert plan.kinds() == list(plan.REGISTRY) == ["stage_swap", "timestep_shift", "cfg_interval"]
    for cls in plan.REGISTRY.values():
        assert cls.__module__ == f"navref.sweeps.{cls.kind}"  # one module per kind
    names = r"""["'](stage_swap|timestep_shift|cfg_interval)["']"""
    listing = re.compile(rf"{names}\s*,\s*{names}")
    files = [
        *REPO.glob("navref/**/*.py"),
        *REPO.glob("rules/**/*.smk"),
        *REPO.glob("workflow_scripts/*.py"),
    ]
    exports = re.compile(r"^__all__ = \[.*?\]", re.M | re.S)  # module names, not kinds
    offenders = [
        str(f.relative_to(REPO)) for f in files if listing.search(exports.sub("", f.read_text()))
    ]
    assert offenders == []


def test_one_form_of_a_cfg_interval_from_config_to_claim7():
    """A CFG interval (and no guidance) is one Interval from the config entry to the claim:
    every spelling on the way (setting id, params, metrics columns, table label, the claim's
    text) is written and read back by it."""
    import pandas as pd

    from navref.report.claims.cfg_interval import _interval
    from navref.sweeps.cfg_interval import NO_GUIDANCE, Interval, table3

    conf = _conf({"cfg_interval": {"model": "m", "intervals": ["none", [0.3, 0.4]]}})
    sweep = plan.get("cfg_interval", conf)
    typed = [Interval.from_conf(e) for e in conf["cfg_interval"]["intervals"]]
    assert typed == [NO_GUIDANCE, Interval(0.3, 0.4)]
    settings = sweep.settings()
    assert list(settings) == [iv.setting_id() for iv in typed] == ["none", "0.3-0.4"]
    rows = []
    for seed in (0, 1):
        for (key, setting), iv in zip(settings.items(), typed, strict=True):
            assert Interval.from_conf(setting["interval"]) == iv  # the rule's params
            info = sweep.info(setting, None, None)
            assert Interval.from_columns(info["cfg_a"], info["cfg_b"]) == iv  # metrics row
            rows.append({"sweep": "cfg_interval", "setting": key, "seed": seed,
                         "num_samples": 10, "fid": 5.0 + seed, **info})  # fmt: skip
    tab = table3(pd.DataFrame(rows))
    assert tab["interval"].tolist() == [iv.label() for iv in typed] == ["none", "[0.3, 0.4]"]
    assert [_interval(r) for _, r in tab.iterrows()] == typed  # what claim 7 reads
    assert not any(NO_GUIDANCE.covers(t) for t in (0.0, 0.5, 1.0))
    assert [s.velocity for s in sweep.segments(settings["none"])] == [("cond", "m")]
