"""A released checkpoint as a workflow model: link_pretrained writes its model.json, and
navref.training.load_model (what every probe and sweep calls) loads it through the dispatch.

The checkpoint is built here in LightningDiT's own format (training-checkpoint dict with
``ema`` and ``model`` state dicts under the official key names, the inverse of
navref.models.released.OFFICIAL_TO_NAVREF) from two navref modules with random weights; the
reference velocities are those modules' own outputs, computed before anything was saved.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

from navref.checkpoint import checkpoint_path
from navref.config_relations import model_size, relation_problems
from navref.io import save_json
from navref.models.dit import DiT
from navref.models.pretrained import link_pretrained
from navref.models.released import OFFICIAL_TO_NAVREF, load_released, released_config
from navref.training import load_model

ARCH = "LightningDiT-B/1"
SMALL = {"depth": 2, "hidden_size": 64, "num_heads": 4}  # cut down, same family flags
SHAPE = (3, 32, 8, 8)  # (B, C, H, W) latents, as VA-VAE's 32 channels on a tiny grid
CLASSES = 10


def _to_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        for official, ours in OFFICIAL_TO_NAVREF:
            if key.startswith(ours):
                key = official + key[len(ours) :]
                break
        out[key] = value.clone()
    return out


def _random_dit(seed: int) -> DiT:
    conf = released_config(
        ARCH, **SMALL, input_size=SHAPE[2], in_channels=SHAPE[1], num_classes=CLASSES
    )
    model = DiT(conf).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():  # every weight nonzero (adaLN-zero would give v = 0)
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return model


def _velocity(model: torch.nn.Module) -> torch.Tensor:
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(SHAPE, generator=gen)
    t = torch.tensor([0.0, 0.37, 0.9])
    y = torch.tensor([1, 4, CLASSES])  # the last one is the null class
    with torch.no_grad():
        return model(x, t, y)


@pytest.fixture
def released(tmp_path):
    """(checkpoint path, stats.json path, {"ema", "model"} reference velocities)."""
    ema, raw = _random_dit(0), _random_dit(1)
    ckpt = tmp_path / "lightningdit-tiny.pt"
    torch.save(
        {"ema": _to_official(ema.state_dict()), "model": _to_official(raw.state_dict())}, ckpt
    )
    stats = tmp_path / "stats.json"
    save_json(stats, {"shape": [100, *SHAPE[1:]], "num_classes": CLASSES})
    return ckpt, stats, {"ema": _velocity(ema), "model": _velocity(raw)}


def _settings(ckpt, **extra):
    return {"pretrained": str(ckpt), "arch": ARCH, "space": "s", "arch_overrides": SMALL, **extra}


@pytest.mark.parametrize("weights", ["ema", "model"])
def test_linked_model_loads_through_the_dispatch(released, tmp_path, weights):
    ckpt, stats, want = released
    out = tmp_path / "models" / "m" / "model.json"
    meta = link_pretrained(_settings(ckpt, weights=weights), stats, out)
    assert json.loads(out.read_text()) == meta
    assert meta["model"]["input_size"] == 8 and meta["model"]["in_channels"] == 32
    assert meta["model"]["num_classes"] == CLASSES and meta["model"]["depth"] == 2
    direct = load_released(ckpt, ARCH, weights, **meta["overrides"])
    for path in (out.parent, out, checkpoint_path(out.parent, "ema")):  # how probes/sweeps call
        got = _velocity(load_model(path))
        assert got.abs().max() > 0.1  # the random head is not adaLN-zero
        torch.testing.assert_close(got, want[weights], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(got, _velocity(direct), rtol=0, atol=0)


def test_other_weights_entry_is_refused(released, tmp_path):
    ckpt, stats, _ = released
    out = tmp_path / "m" / "model.json"
    link_pretrained(_settings(ckpt), stats, out)
    with pytest.raises(ValueError, match="models.<m>.weights"):
        load_model(out.parent, which="model")


def test_replaced_checkpoint_is_refused(released, tmp_path):
    ckpt, stats, _ = released
    out = tmp_path / "m" / "model.json"
    link_pretrained(_settings(ckpt), stats, out)
    st = os.stat(ckpt)
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ValueError, match="changed since it was linked"):
        load_model(out.parent)


def test_missing_checkpoint_and_wrong_space(released, tmp_path):
    ckpt, stats, _ = released
    with pytest.raises(FileNotFoundError, match="download it"):
        link_pretrained(_settings(tmp_path / "absent.pt"), stats, tmp_path / "a.json")
    save_json(stats, {"shape": [100, 4, 8, 8], "num_classes": CLASSES})  # SD-VAE-like channels
    with pytest.raises(ValueError, match="shape mismatches"):
        link_pretrained(_settings(ckpt), stats, tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()


def _config(arch, side=16):
    return {
        "datasets": {"d": {"kind": "digits", "resolution": side}},
        "latent_spaces": {"s": {"dataset": "d", "kind": "pixel"}},
        "models": {
            "rel": {"space": "s", "pretrained": "/models/x.pt", "arch": arch, "steps": 9},
            "own": {"space": "s", "arch": {"size": "tiny"}, "train": {"steps": 5}},
        },
        "sweeps": {"cfg_interval": {"model": "rel", "intervals": [[0.1, 0.9]]}},
        "evaluation": {"kid_subset_size": 100},
        "report": {"space_size": "XL"},
    }


def test_relations_of_a_released_model():
    assert model_size({"arch": "LightningDiT-XL/1"}) == "XL"
    assert model_size({"arch": "SiT-B/2"}) == "B"
    assert model_size({"arch": {"size": "tiny"}}) == "tiny"
    assert relation_problems(_config("LightningDiT-XL/1")) == []  # patch 1; a null class
    assert relation_problems(_config("SiT-XL/8")) == []  # patch 8 divides 16
    bad = relation_problems(_config("SiT-XL/2", side=15))
    assert (
        "models.rel.arch (SiT-XL/2) patch size: 2 does not divide the latent side 15" in bad[0]
    ), bad
    trained = _config("SiT-XL/8")
    trained["models"]["own"]["train"]["label_dropout"] = 0.0
    trained["sweeps"]["cfg_interval"]["model"] = "own"
    assert ["label_dropout = 0" in p for p in relation_problems(trained)] == [True]
    trained["report"]["space_size"] = "L"
    assert "allowed: ['XL', 'tiny']" in relation_problems(trained)[-1]


def test_guiding_a_release_without_a_null_class_is_refused_before_any_job():
    config = _config("LightningDiT-XL/1")
    config["models"]["rel"]["arch_overrides"] = {"null_class": False}
    problems = relation_problems(config)
    assert len(problems) == 1 and "null_class: false" in problems[0], problems
    config["sweeps"]["cfg_interval"]["model"] = "own"
    assert relation_problems(config) == []


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_a_single_file_vae_needs_its_latents_scaled(suffix):
    """A single-file VAE has no scaling_factor: unnormalised latents are refused, naming the
    fix; normalize (the VAE space's default) or latents_stats make it valid."""
    config = _config("LightningDiT-XL/1")
    config["latent_spaces"]["v"] = {"dataset": "d", "kind": "vae",
                                    "pretrained": f"/m/vae{suffix}", "normalize": False}  # fmt: skip
    problems = relation_problems(config)
    assert len(problems) == 1 and "no scaling_factor" in problems[0], problems
    assert "normalize: true" in problems[0]
    del config["latent_spaces"]["v"]["normalize"]
    assert relation_problems(config) == []
    config["latent_spaces"]["v"]["latents_stats"] = "/m/stats.pt"
    assert relation_problems(config) == []
    config["latent_spaces"]["v"] = {"dataset": "d", "kind": "vae", "pretrained": "/m/folder",
                                    "normalize": False}  # fmt: skip
    assert relation_problems(config) == []
