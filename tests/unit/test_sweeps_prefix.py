"""Shared trajectory prefixes of the sweeps: the segments of each sweep kind, the parent of
each setting, and a child started from its parent's stored state being bitwise the
from-scratch samples (CPU, float32, a small random DiT)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO
from snakemake.utils import validate

from navref import sampling
from navref.models.dit import DiTConfig, build_model
from navref.sweeps import plan
from navref.sweeps.sampling import sample_set, state_file


def _conf(sweeps: dict) -> dict:
    """The ``sweeps`` section of the default config replaced by ``sweeps``, validated."""
    conf = yaml.safe_load((REPO / "config.yaml").read_text())
    conf = {**copy.deepcopy(conf), "sweeps": sweeps}
    validate(conf, str(REPO / "schemas" / "config.schema.yaml"))
    return conf["sweeps"]


def _default_sweeps() -> dict:
    return _conf(yaml.safe_load((REPO / "config.yaml").read_text())["sweeps"])


#: absolute settings whose branches are known at parse time (the default config's until
#: 2026-12-08; its relative CFG intervals and shifts resolve at job time, so they do not branch)
ABSOLUTE_SWEEPS = {
    "stage_swap": {
        "taus": ["s0.5", "s1.0"],
        "pairs": [["small", "small"], ["tiny", "small"], ["small", "tiny"], ["tiny", "tiny"]],
        "steps_per_stage": 25,
    },
    "timestep_shift": {"model": "small", "shifts": [4, 2, 1, 0.7, 0.5, 0.3, 0.1], "steps": 50},
    "cfg_interval": {
        "model": "small",
        "scale": 2.5,
        "intervals": [
            "none", [0.0, 1.0], [0.0, 0.1], [0.1, 0.2], [0.2, 0.3], [0.3, 0.4], [0.4, 0.5],
            [0.5, 0.6], [0.6, 0.7], [0.7, 0.8], [0.8, 0.9], [0.9, 1.0], [0.1, 0.5],
            [0.1, 0.6], [0.1, 0.7], [0.0, 0.5], [0.0, 0.6], [0.0, 0.7],
        ],
        "steps": 50,
    },
}  # fmt: skip


def _absolute_sweeps() -> dict:
    return _conf(copy.deepcopy(ABSOLUTE_SWEEPS))


def test_relative_settings_do_not_branch():
    """The default's relative CFG intervals (``s<f>`` ends) resolve at job time: no parse-time
    parent (they would need the split); absolute ones keep theirs."""
    cfg = plan.get("cfg_interval", _default_sweeps())
    relative = [k for k in cfg.settings() if "s" in k and k != "none"]
    assert relative and all(cfg.branches()[k] is None for k in relative)


def test_the_parse_time_tolerance_is_the_samplers():
    assert plan.TIME_TOL == sampling.TIME_TOL


@pytest.mark.parametrize("n", [10, 50])
@pytest.mark.parametrize("interval", [None, [0.0, 1.0], [0.1, 0.2], [0.25, 0.55], [0.9, 1.0]])
def test_cfg_segments_follow_the_providers_guidance(n, interval):
    """Each step of a CFG setting's segments is guided exactly where ModelVelocity guides,
    and the segments tile the grid's steps in order."""
    sweep = plan.REGISTRY["cfg_interval"]({})
    setting = {"model": "m", "interval": interval, "scale": 2.5, "steps": n}
    segments = sweep.segments(setting)
    assert [s.start for s in segments] == [0] + [s.stop for s in segments[:-1]]
    assert segments[-1].stop == n
    provider = sweep.velocity(setting, {"m": lambda x, t, y: x}, 3)
    times = sweep.grid(setting).tolist()
    for seg in segments:
        for k in range(seg.start, seg.stop):
            guided = provider.mode == "cfg" and provider.guided_at(times[k])
            assert (seg.velocity[0] == "cfg") == guided, (k, seg)


def test_shared_steps_counts_the_common_prefix():
    cfg = plan.REGISTRY["cfg_interval"]({})
    base = {"model": "m", "scale": 2.5, "steps": 50}

    def seg(iv):
        return cfg.segments({**base, "interval": iv})

    assert plan.shared_steps(seg(None), seg([0.1, 0.2])) == 5  # unguided t = 0 .. 0.08
    assert plan.shared_steps(seg([0.1, 0.2]), seg([0.1, 0.5])) == 11  # apart at t = 0.22
    assert plan.shared_steps(seg([0.0, 0.1]), seg([0.0, 1.0])) == 6
    assert plan.shared_steps(seg(None), seg(None)) == 50
    other_scale = cfg.segments({**base, "scale": 1.5, "interval": [0.1, 0.2]})
    assert plan.shared_steps(seg([0.1, 0.2]), other_scale) == 5
    swap = plan.REGISTRY["stage_swap"]({})

    def pair(a, b, tau="s0.5"):
        return swap.segments({"tau": tau, "stage1": a, "stage2": b, "steps_per_stage": 25})

    assert plan.shared_steps(pair("a", "b"), pair("a", "a")) == 25
    assert plan.shared_steps(pair("a", "b"), pair("b", "b")) == 0
    assert plan.shared_steps(pair("a", "b"), pair("a", "a", tau="s1.0")) == 0  # other grid


def test_absolute_config_parents():
    sweeps = _absolute_sweeps()
    B = plan.Branch
    assert plan.get("cfg_interval", sweeps).branches() == {
        "none": None, "0-1": None, "0-0.1": B("0-1", 6), "0.1-0.2": B("none", 5),
        "0.2-0.3": B("none", 10), "0.3-0.4": B("none", 15), "0.4-0.5": B("none", 20),
        "0.5-0.6": B("none", 25), "0.6-0.7": B("none", 30), "0.7-0.8": B("none", 35),
        "0.8-0.9": B("none", 40), "0.9-1": B("none", 45), "0.1-0.5": B("0.1-0.2", 11),
        "0.1-0.6": B("0.1-0.5", 26), "0.1-0.7": B("0.1-0.6", 31),
        "0-0.5": B("0-1", 26), "0-0.6": B("0-1", 31), "0-0.7": B("0-1", 36),
    }  # fmt: skip
    swap = plan.get("stage_swap", sweeps)
    assert swap.branches() == {
        f"tau{t}_{a}-{b}": (B(f"tau{t}_{a}-{a}", 25) if a != b and a == "small" else
                            B(f"tau{t}_tiny-small", 25) if (a, b) == ("tiny", "tiny") else None)
        for t in ("s0.5", "s1.0") for a, b in
        [("small", "small"), ("tiny", "small"), ("small", "tiny"), ("tiny", "tiny")]
    }  # fmt: skip
    assert swap.branch_steps("taus0.5_small-small") == [25]
    assert swap.branch_steps("taus0.5_small-tiny") == []
    assert set(plan.get("timestep_shift", sweeps).branches().values()) == {None}
    assert plan.get("cfg_interval", sweeps).branch_steps("none") == [
        5,
        10,
        15,
        20,
        25,
        30,
        35,
        40,
        45,
    ]


@pytest.mark.parametrize("kind", ["cfg_interval", "stage_swap"])
def test_parents_are_earlier_and_appending_keeps_them(kind):
    """Parents precede their children in config order (so no cycles), share at least the
    branch step with them and at most all steps but one; a setting appended to the config
    changes no existing parent."""
    sweeps = _absolute_sweeps()
    sweep = plan.get(kind, sweeps)
    keys, branches = list(sweep.settings()), sweep.branches()
    for key, branch in branches.items():
        if branch is not None:
            assert keys.index(branch.parent) < keys.index(key)
            child, parent = (sweep.segments(sweep.settings()[k]) for k in (key, branch.parent))
            assert 0 < branch.step <= plan.shared_steps(child, parent) < len(plan.step_keys(child))
    more = copy.deepcopy(sweeps)
    if kind == "cfg_interval":
        more[kind]["intervals"].append([0.1, 0.3])
    else:
        more[kind]["pairs"].append(["small", "base"])
    new = plan.get(kind, more).branches()
    assert {k: new[k] for k in branches} == branches
    if kind == "cfg_interval":
        assert new["0.1-0.3"] == plan.Branch("0.1-0.5", 16)


# ------------------------------------------------------------------ bitwise equality


def _dit(seed: int) -> torch.nn.Module:
    conf = DiTConfig(depth=2, hidden_size=32, num_heads=2, patch_size=2, input_size=4,
                     in_channels=2, num_classes=3)  # fmt: skip
    model = build_model(conf).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


class _LatentSpace:
    """3 classes of (2, 4, 4) latents; 'decoding' returns the float latents themselves, so
    the comparison is of the ODE's final states, bit for bit."""

    stats = {"num_classes": 3, "shape": [0, 2, 4, 4]}

    def decode(self, z):
        return z.numpy().copy()


@pytest.fixture
def models():
    return {"a": _dit(0), "b": _dit(1)}


def _run(sweep, setting, models, **kw):
    images, labels, info = sample_set(
        sweep, setting, {m: models[m] for m in sweep.models(setting)}, _LatentSpace(), 7, 3,
        "cpu", batch_size=3, **kw,
    )  # fmt: skip
    return torch.from_numpy(images), labels, info


@pytest.mark.parametrize(
    ("kind", "parent", "child"),
    [
        ("cfg_interval", {"interval": None}, {"interval": [0.3, 0.6]}),
        ("cfg_interval", {"interval": [0.2, 0.7]}, {"interval": [0.2, 0.4]}),
        ("stage_swap", {"stage1": "a", "stage2": "a"}, {"stage1": "a", "stage2": "b"}),
    ],
)
def test_a_child_from_its_parents_state_is_bitwise_from_scratch(tmp_path, models, kind,
                                                                 parent, child):  # fmt: skip
    base = (
        {"model": "a", "scale": 2.5, "steps": 10}
        if kind == "cfg_interval"
        else {"tau": 0.3, "steps_per_stage": 5}
    )
    sweep = plan.REGISTRY[kind]({})
    parent, child = {**base, **parent}, {**base, **child}
    k = plan.shared_steps(sweep.segments(child), sweep.segments(parent))
    assert 0 < k < 10
    scratch_parent = _run(sweep, parent, models)
    scratch_child = _run(sweep, child, models)
    store = tmp_path / "states"
    from_states = _run(sweep, parent, models, states_out=store, keep_steps=[k])
    branched = _run(sweep, child, models, branch=(store, k))
    assert torch.equal(from_states[0], scratch_parent[0])  # storing changes nothing
    assert torch.equal(branched[0], scratch_child[0])  # the child: bitwise from scratch
    assert np.array_equal(branched[1], scratch_child[1]) and branched[2] == scratch_child[2]
    assert not torch.equal(branched[0], from_states[0])  # the settings do differ
    stored = np.load(state_file(store, k))
    assert stored.shape == (7, 2, 4, 4) and stored.dtype == np.float32


def test_a_store_of_another_trajectory_is_refused(tmp_path, models):
    sweep = plan.REGISTRY["cfg_interval"]({})
    setting = {"model": "a", "scale": 2.5, "steps": 10, "interval": None}
    store = tmp_path / "states"
    _run(sweep, setting, models, states_out=store, keep_steps=[3])
    child = {**setting, "interval": [0.3, 0.6]}
    with pytest.raises(ValueError, match="does not hold this trajectory's state at step 4"):
        _run(sweep, child, models, branch=(store, 4))
    with pytest.raises(ValueError, match=r"differs in \['seed'\]"):
        sample_set(sweep, child, {"a": models["a"]}, _LatentSpace(), 7, 4, "cpu", batch_size=3,
                     branch=(store, 3))  # fmt: skip
    finer = {**child, "steps": 20}
    with pytest.raises(ValueError, match="grid up to step 3"):
        _run(sweep, finer, models, branch=(store, 3))


def test_a_store_written_by_other_weights_of_the_same_model_is_refused(tmp_path, models):
    """The store is keyed on the weights that made its rows (a retrained model of the same
    name makes another trajectory): a child refuses it, naming the model; a store that
    records no weights (written before the key) is refused alike."""
    sweep = plan.REGISTRY["cfg_interval"]({})
    setting = {"model": "a", "scale": 2.5, "steps": 10, "interval": None}
    child = {**setting, "interval": [0.3, 0.6]}
    store = tmp_path / "states"
    _run(sweep, setting, models, states_out=store, keep_steps=[3])
    _run(sweep, child, models, branch=(store, 3))  # same weights: read
    retrained = {"a": models["b"]}
    with pytest.raises(ValueError, match=r"differs in \['the weights of model a'\]"):
        _run(sweep, child, retrained, branch=(store, 3))
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "models"}))
    with pytest.raises(ValueError, match="the weights of model a"):
        _run(sweep, child, models, branch=(store, 3))


def test_a_stage_swap_child_checks_only_the_models_of_its_shared_steps(tmp_path, models):
    """(a, b) stores its state at tau; (a, a) shares only model a's steps: it needs no key
    of b (it has no model b), and a changed a is refused."""
    sweep = plan.REGISTRY["stage_swap"]({})
    parent = {"tau": 0.3, "steps_per_stage": 5, "stage1": "a", "stage2": "b"}
    child = {**parent, "stage2": "a"}
    store = tmp_path / "states"
    _run(sweep, parent, models, states_out=store, keep_steps=[5])
    _run(sweep, child, {"a": models["a"]}, branch=(store, 5))
    with pytest.raises(ValueError, match="the weights of model a"):
        _run(sweep, child, {"a": _dit(2)}, branch=(store, 5))
