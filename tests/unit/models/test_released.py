"""Released checkpoints load exactly: LightningDiT, SiT and VA-VAE against the official code.

Reference: ``../shared/fixtures/released-formats/`` (outside the repository; or the folder
named by ``NAVREF_FIXTURES``) holds small checkpoints in each release's format and the
outputs the official model code computed from them (its README.md says what each holds).
Every test loads through the user path (``load_released``, ``convert_ldm_vae`` + ``load_vae``,
``latents_stats_scaling``) and compares with those outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from navref.latents import latents_stats_scaling, normalize
from navref.models.dit import DiT, DiTConfig, sincos_2d_table
from navref.models.released import load_released, released_config
from navref.vae import load_vae
from navref.vae_convert import convert_ldm_vae

REPO = Path(__file__).resolve().parents[3]
FIXTURES = Path(
    os.environ.get("NAVREF_FIXTURES", REPO.parent / "shared" / "fixtures" / "released-formats")
)
needs_fixtures = pytest.mark.skipif(
    not (FIXTURES / "README.json").is_file(),
    reason=f"released-format fixtures absent at {FIXTURES} (set NAVREF_FIXTURES to their folder)",
)
RTOL = 1e-5  # relative to the largest magnitude of the expected tensor
NULL = 10  # the fixtures' null class (num_classes = 10)


pytestmark = pytest.mark.usefixtures("single_thread")


def _io(name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(FIXTURES / f"{name}_io.safetensors"))


def _dims(name: str) -> dict[str, int]:
    """Shapes of a fixture model from README.json (the official constructor's arguments)."""
    a = json.loads((FIXTURES / "README.json").read_text())[name]
    keys = ("depth", "hidden_size", "num_heads", "input_size", "num_classes", "patch_size")
    return {k: a[k] for k in keys} | {"in_channels": a["in_channels"]}


def _assert_close(got: torch.Tensor, want: torch.Tensor) -> None:
    assert got.shape == want.shape
    err = (got - want).abs().max() / want.abs().max()
    assert err < RTOL, f"max error {err:.2e} relative to max |expected|"


def _cfg_velocity(model: DiT, io: dict[str, torch.Tensor], scale: float) -> torch.Tensor:
    """v_u + w (v_c - v_u) on all channels (the fixtures' guidance)."""
    v_c = model(io["x"], io["t"], io["y_cond"])
    v_u = model(io["x"], io["t"], torch.full_like(io["y_cond"], NULL))
    return v_u + scale * (v_c - v_u)


@needs_fixtures
@pytest.mark.parametrize("weights", ["ema", "model"])
@torch.no_grad()
def test_lightningdit_velocity_matches_official(weights):
    io = _io("lightningdit_tiny")
    model = load_released(
        FIXTURES / "lightningdit_tiny.pt",
        "LightningDiT-XL/1",
        weights,
        **_dims("lightningdit_tiny"),
    )
    _assert_close(model(io["x"], io["t"], io["y"]), io[f"v_{weights}"])
    if weights == "ema":
        _assert_close(_cfg_velocity(model, io, 4.0), io["v_cfg_scale4"])


@needs_fixtures
@torch.no_grad()
def test_sit_velocity_matches_official():
    io = _io("sit_tiny")
    model = load_released(FIXTURES / "sit_tiny.pt", "SiT-XL/2", **_dims("sit_tiny"))
    assert model.final_layer.linear.out_features == 2 * 2 * 2 * 4  # learned-sigma head, p = 2
    _assert_close(model(io["x"], io["t"], io["y"]), io["v"])
    _assert_close(_cfg_velocity(model, io, 4.0), io["v_cfg_scale4"])


@needs_fixtures
@pytest.mark.parametrize(("name", "key"), [("lightningdit_tiny", "ema"), ("sit_tiny", None)])
def test_sincos_table_equals_the_releases(name, key):
    ckpt = torch.load(FIXTURES / f"{name}.pt", map_location="cpu", weights_only=True)
    table = (ckpt[key] if key else ckpt)["pos_embed"]
    d = _dims(name)
    ours = sincos_2d_table(d["hidden_size"], d["input_size"] // d["patch_size"])
    torch.testing.assert_close(ours.unsqueeze(0), table, rtol=0, atol=1e-6)


@needs_fixtures
def test_load_errors_name_keys_and_fitting_arch():
    with pytest.raises(
        ValueError, match=r"(?s)missing keys.*fc1.*fits: no released name \(LightningDiT-like"
    ):
        load_released(FIXTURES / "lightningdit_tiny.pt", "SiT-XL/2", **_dims("lightningdit_tiny"))
    with pytest.raises(ValueError, match="no raw 'model' weights"):
        load_released(FIXTURES / "sit_tiny.pt", "SiT-XL/2", "model", **_dims("sit_tiny"))
    with pytest.raises(ValueError, match="unknown released architecture 'LightningDiT-XL/3'"):
        load_released(FIXTURES / "sit_tiny.pt", "LightningDiT-XL/3")


@needs_fixtures
@torch.no_grad()
def test_vavae_converts_exactly_through_diffusers(tmp_path, caplog):
    io = _io("vavae_tiny")
    caplog.set_level("INFO")
    info = convert_ldm_vae(FIXTURES / "vavae_tiny.pt", tmp_path / "vae", resolution=32)
    ref = json.loads((FIXTURES / "README.json").read_text())["vavae_tiny"]
    dd = info["ddconfig"]
    assert {k: dd[k] for k in ("ch", "ch_mult", "num_res_blocks", "z_channels", "embed_dim")} == {
        k: ref[k] for k in ("ch", "ch_mult", "num_res_blocks", "z_channels", "embed_dim")
    }
    assert [ref["resolution"] >> i for i in dd["attn_levels"]] == ref["attn_resolutions"]
    assert info["ignored"].get("loss", 0) > 0 and "ignored training-only keys" in caplog.text
    vae = load_vae(tmp_path / "vae")
    post = vae.encode(io["image"]).latent_dist
    _assert_close(post.mean, io["latent_mean"])
    _assert_close(post.logvar, io["latent_logvar"])
    _assert_close(vae.decode(io["z"]).sample, io["decoded"])


@needs_fixtures
def test_latents_stats_give_the_releases_normalisation():
    stats = torch.load(FIXTURES / "latents_stats.pt", map_location="cpu", weights_only=True)
    shift, scale = latents_stats_scaling(FIXTURES / "latents_stats.pt", 32)
    raw = torch.randn(3, 32, 4, 4)
    want = (raw - stats["mean"]) / stats["std"] * 1.0  # LightningDiT: (z - mean) / std * mult
    got = normalize(raw, torch.tensor(shift).float(), torch.tensor(scale).float())
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="32/32 channels, the latents 4"):
        latents_stats_scaling(FIXTURES / "latents_stats.pt", 4)


def test_released_size_table_matches_official_param_count():
    """SiT-XL/2 = DiT-XL/2: 675,129,632 parameters in the official count, which includes the
    frozen pos_embed parameter (256 x 1152) that navref keeps as a buffer."""
    with torch.device("meta"):
        model = DiT(released_config("SiT-XL/2"))
    assert sum(p.numel() for p in model.parameters()) == 675_129_632 - 256 * 1152


def test_navref_state_dict_unchanged_by_release_options():
    """navref's own architecture gains no entries, and a config saved before the options
    existed (no such keys) builds the same model."""
    old = {"depth": 1, "hidden_size": 32, "num_heads": 2, "input_size": 8, "in_channels": 4}
    conf = DiTConfig.from_dict({**old, "num_classes": 3})
    keys = set(DiT(conf).state_dict())
    assert not {k for k in keys if "pos_embed" in k or ".fc1." in k}
    assert np.all([k.endswith((".weight", ".bias")) for k in keys])


SCHEMA = REPO / "schemas" / "config.schema.yaml"


def _schema_errors(models: dict, space_extra: dict | None = None) -> str:
    from navref.config import explain

    space = {"dataset": "d", "kind": "vae", "pretrained": "/w/vavae.pt", **(space_extra or {})}
    config = {
        "datasets": {"d": {"kind": "synthetic_gaussian", "dim": 2, "size": 8}},
        "latent_spaces": {"s": space},
    }
    return explain({**config, "models": models}, SCHEMA)


def test_schema_release_names_are_the_loaders():
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text())
    arch = schema["properties"]["models"]["additionalProperties"]["properties"]["arch"]
    from navref.models.released import RELEASED_ARCHS

    assert arch["oneOf"][0]["enum"] == list(RELEASED_ARCHS)


@pytest.mark.parametrize(
    ("model", "ok"),
    [
        ({"space": "s", "pretrained": "/w/xl.pt", "arch": "LightningDiT-XL/1", "steps": 8}, True),
        (
            {
                "space": "s",
                "pretrained": "/w/sit.pt",
                "arch": "SiT-XL/2",
                "weights": "ema",
                "steps": 7,
                "arch_overrides": {"depth": 2},
            },
            True,
        ),
        ({"space": "s", "pretrained": "/w/xl.pt", "arch": "LightningDiT-XL/1"}, False),  # steps
        (
            {
                "space": "s",
                "pretrained": "/w/x.pt",
                "arch": "SiT-XL/2",
                "steps": 7,
                "arch_overrides": {"input_size": 2},
            },  # from the latent space, never set
            False,
        ),
        ({"space": "s", "arch": {"size": "tiny"}, "train": {"steps": 10}, "steps": 10}, False),
        ({"space": "s", "arch": {"size": "tiny"}, "train": {"steps": 10}}, True),
        ({"space": "s", "pretrained": "/w/xl.pt", "arch": "LightningDiT-XL/3"}, False),
        ({"space": "s", "pretrained": "/w/xl.pt", "arch": {"size": "XL"}}, False),
        (
            {"space": "s", "pretrained": "/w/xl.pt", "arch": "SiT-XL/2", "train": {"steps": 1}},
            False,
        ),
        ({"space": "s", "arch": {"size": "tiny"}, "train": {"steps": 10}, "weights": "ema"}, False),
    ],
)
def test_schema_pretrained_models(model, ok):
    errors = _schema_errors({"m": model})
    assert (errors == "") is ok, errors


def test_schema_latents_stats():
    assert _schema_errors({}, {"latents_stats": "/w/latents_stats.pt"}) == ""
    assert _schema_errors({}, {"latents_stats": "/w/s.pt", "latent_multiplier": 0.5}) == ""
    assert _schema_errors({}, {"latent_multiplier": 0.5}) != ""
    assert _schema_errors({}, {"latents_stats": "/w/s.pt", "normalize": True}) != ""


class _Custom:  # a pickled object that is not on navref's allow-list
    pass


@needs_fixtures
@torch.no_grad()
def test_a_sit_training_checkpoint_with_its_args_namespace_loads(tmp_path, caplog):
    """The official SiT / DiT train.py saves {"model", "ema", "opt", "args": Namespace}:
    loaded with weights_only=True (the Namespace allowed, skipped with a log line), the
    velocity equals the official one; another pickled global is refused naming the file,
    the global and the fix."""
    import argparse
    import logging

    io = _io("sit_tiny")
    ema = torch.load(FIXTURES / "sit_tiny.pt", map_location="cpu", weights_only=True)
    path = tmp_path / "0400000.pt"
    args = argparse.Namespace(model="SiT-XL/2", global_batch_size=256, path_type="Linear")
    torch.save({"model": ema, "ema": ema, "opt": {"state": {}}, "args": args}, path)
    with caplog.at_level(logging.INFO, logger="navref.models.released"):
        model = load_released(path, "SiT-XL/2", **_dims("sit_tiny"))
    assert "skipped its non-tensor entries ['args', 'opt']" in caplog.text  # opt: empty here
    _assert_close(model(io["x"], io["t"], io["y"]), io["v"])
    bad = tmp_path / "custom.pt"
    torch.save({"ema": ema, "extra": _Custom()}, bad)
    with pytest.raises(ValueError, match=rf"{bad}.*_Custom.*safetensors"):
        load_released(bad, "SiT-XL/2", **_dims("sit_tiny"))


@needs_fixtures
@torch.no_grad()
def test_a_release_without_a_null_class_says_so_and_loads_without_cfg(tmp_path):
    """A class table of num_classes rows (trained without label dropout): the reason, not a
    bare shape mismatch; with null_class=False it loads, its conditional velocity equals
    the official one on those labels, and guidance with it is refused."""
    from navref.sampling import ModelVelocity

    io = _io("sit_tiny")
    ema = torch.load(FIXTURES / "sit_tiny.pt", map_location="cpu", weights_only=True)
    ema["y_embedder.embedding_table.weight"] = ema["y_embedder.embedding_table.weight"][:NULL]
    path = tmp_path / "no_null.pt"
    torch.save(ema, path)
    with pytest.raises(ValueError, match=r"no null.*classifier-free guidance.*null_class: false"):
        load_released(path, "SiT-XL/2", **_dims("sit_tiny"))
    model = load_released(path, "SiT-XL/2", null_class=False, **_dims("sit_tiny"))
    real = io["y"] < NULL  # the official outputs of real labels
    assert real.sum() >= 3
    _assert_close(model(io["x"][real], io["t"][real], io["y"][real]), io["v"][real])
    with pytest.raises(ValueError, match="no null class"):
        ModelVelocity(model, NULL, mode="cfg", cfg_scale=4.0)
    with pytest.raises(ValueError, match="no unconditional velocity"):
        model(io["x"], io["t"])
    with pytest.raises(ValueError, match="drop `null_class: false`"):
        load_released(FIXTURES / "sit_tiny.pt", "SiT-XL/2", null_class=False, **_dims("sit_tiny"))


@needs_fixtures
def test_a_single_file_safetensors_vae_loads_without_a_config(tmp_path):
    """The common one-file layout (LDM / ComfyUI key names in one .safetensors): loaded
    offline, architecture inferred from the keys, outputs as the official code's; a single
    file in diffusers key layout is refused saying how to make it loadable."""
    from safetensors.torch import save_file

    io = _io("vavae_tiny")
    state = torch.load(FIXTURES / "vavae_tiny.pt", map_location="cpu", weights_only=True)
    state = {k: v.contiguous() for k, v in state["state_dict"].items()}
    save_file(state, str(tmp_path / "vae.safetensors"))
    vae = load_vae(tmp_path / "vae.safetensors")
    post = vae.encode(io["image"]).latent_dist
    _assert_close(post.mean, io["latent_mean"])
    _assert_close(vae.decode(io["z"]).sample, io["decoded"])
    convert_ldm_vae(FIXTURES / "vavae_tiny.pt", tmp_path / "folder", resolution=32)
    from safetensors.torch import load_file

    diffusers_keys = load_file(str(tmp_path / "folder" / "diffusion_pytorch_model.safetensors"))
    save_file(diffusers_keys, str(tmp_path / "diffusers.safetensors"))
    with pytest.raises(ValueError, match=r"diffusers.safetensors .*config.json"):
        load_vae(tmp_path / "diffusers.safetensors")
