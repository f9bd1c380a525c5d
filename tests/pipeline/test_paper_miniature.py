"""The paper's DAG in miniature: configs/paper.yaml with tests/pipeline/configs/paper_miniature.yaml
merged over it, run to the claims and tables through snakemake on 2 CPU cores.

Everything the paper config reads from disk is made here in its native format, with random
weights: a 256 px JPEG ImageNet-like train folder and a flat validation folder with the
ILSVRC2012 devkit's ground truth and meta.mat; an SD-VAE-shaped diffusers AutoencoderKL (f8,
4 channels) written by ``save_pretrained``; a VA-VAE-shaped LDM checkpoint (f16, 32
channels, attention at 16 px, training-only ``loss.*`` keys) that rule convert_vae turns
into diffusers; torch-fidelity's Inception-v3 as a state-dict file. The test checks the
shapes the paper's scale is about: latents 32x32x4 / 16x16x32 (D = 4096 / 8192), 256
tokens per model, and that every table and the claims are written.

Marked ``paper`` (and ``slow``): ``make test`` runs it (on one of its two pytest-xdist workers,
beside the rest of the suite); ``make test PYTEST_ARGS="-m paper"`` runs only it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO, job_counts, plan_then_run, run_snakemake
from imagenet_fakes import write_flat_val, write_train_folder

pytestmark = [pytest.mark.slow, pytest.mark.paper]

OVERLAY = REPO / "tests" / "pipeline" / "configs" / "paper_miniature.yaml"
CLASSES, TRAIN_PER_CLASS, VAL_PER_CLASS = 4, 5, 2
#: latent shape (C, H, W) and patch size of each latent space of the paper config
SPACES = {"imagenet_sdvae": ((4, 32, 32), 2), "imagenet_vavae": ((32, 16, 16), 1)}


def merge(base: dict, overlay: dict) -> dict:
    """``overlay`` over ``base`` as snakemake merges config files: dicts key by key
    (recursively), any other value replaced."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _fill(node, work: Path):
    if isinstance(node, dict):
        return {k: _fill(v, work) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, work) for v in node]
    return node.replace("{work}", str(work)) if isinstance(node, str) else node


def miniature_config(work: Path) -> dict:
    """The paper config with the miniature overlay and the test's paths. Raises
    AssertionError if the paper config gained a model, data set or latent space the
    overlay does not shrink (it would train at paper scale)."""
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    overlay = yaml.safe_load(OVERLAY.read_text())
    for section in ("datasets", "latent_spaces", "models"):
        assert set(paper[section]) == set(overlay[section]), (
            f"{OVERLAY.name}: shrink every entry of configs/paper.yaml's {section}"
        )
    return _fill(merge(paper, overlay), work)


def sd_vae(out: Path) -> None:
    """An SD-VAE-shaped diffusers AutoencoderKL: 4 levels (f8), 4 latent channels, the mid
    block's attention, scaling_factor 0.18215; tiny widths."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=256,
        scaling_factor=0.18215,
    ).save_pretrained(out)


def _conv(state: dict, name: str, c_out: int, c_in: int, k: int, g: torch.Generator) -> None:
    state[f"{name}.weight"] = torch.randn(c_out, c_in, k, k, generator=g) / (c_in * k * k) ** 0.5
    state[f"{name}.bias"] = 0.01 * torch.randn(c_out, generator=g)


def _norm(state: dict, name: str, c: int, g: torch.Generator) -> None:
    state[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=g)
    state[f"{name}.bias"] = 0.1 * torch.randn(c, generator=g)


def _resnet(state: dict, name: str, c_in: int, c_out: int, g: torch.Generator) -> None:
    _norm(state, f"{name}.norm1", c_in, g)
    _conv(state, f"{name}.conv1", c_out, c_in, 3, g)
    _norm(state, f"{name}.norm2", c_out, g)
    _conv(state, f"{name}.conv2", c_out, c_out, 3, g)
    if c_in != c_out:
        _conv(state, f"{name}.nin_shortcut", c_out, c_in, 1, g)


def _attn(state: dict, name: str, c: int, g: torch.Generator) -> None:
    _norm(state, f"{name}.norm", c, g)
    for part in ("q", "k", "v", "proj_out"):
        _conv(state, f"{name}.{part}", c, c, 1, g)


def ldm_vae_state(
    ch: int, ch_mult: tuple[int, ...], res_blocks: int, attn_levels: set[int], z: int
):
    """A random LDM ``AutoencoderKL`` state dict with the key layout of CompVis'
    ``Encoder`` / ``Decoder`` (ldm/modules/diffusionmodules/model.py, kept by VA-VAE):
    attention after the res blocks of ``attn_levels`` and in the middle block."""
    g = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    n = len(ch_mult)
    _conv(state, "encoder.conv_in", ch, 3, 3, g)
    c = ch
    for i in range(n):
        for j in range(res_blocks):
            _resnet(state, f"encoder.down.{i}.block.{j}", c, ch * ch_mult[i], g)
            c = ch * ch_mult[i]
            if i in attn_levels:
                _attn(state, f"encoder.down.{i}.attn.{j}", c, g)
        if i != n - 1:
            _conv(state, f"encoder.down.{i}.downsample.conv", c, c, 3, g)
    for side in ("encoder", "decoder"):
        _resnet(state, f"{side}.mid.block_1", ch * ch_mult[-1], ch * ch_mult[-1], g)
        _attn(state, f"{side}.mid.attn_1", ch * ch_mult[-1], g)
        _resnet(state, f"{side}.mid.block_2", ch * ch_mult[-1], ch * ch_mult[-1], g)
    _norm(state, "encoder.norm_out", c, g)
    _conv(state, "encoder.conv_out", 2 * z, c, 3, g)
    _conv(state, "quant_conv", 2 * z, 2 * z, 1, g)
    _conv(state, "post_quant_conv", z, z, 1, g)
    c = ch * ch_mult[-1]
    _conv(state, "decoder.conv_in", c, z, 3, g)
    for i in reversed(range(n)):
        for j in range(res_blocks + 1):
            _resnet(state, f"decoder.up.{i}.block.{j}", c, ch * ch_mult[i], g)
            c = ch * ch_mult[i]
            if i in attn_levels:
                _attn(state, f"decoder.up.{i}.attn.{j}", c, g)
        if i != 0:
            _conv(state, f"decoder.up.{i}.upsample.conv", c, c, 3, g)
    _norm(state, "decoder.norm_out", c, g)
    _conv(state, "decoder.conv_out", 3, c, 3, g)
    return state


def vavae_checkpoint(path: Path) -> None:
    """A VA-VAE-shaped LDM checkpoint: 5 levels (f16), 32 latent channels, attention at
    the 16 px level (attn_resolutions [16] at 256 px), GroupNorm(32); ``loss.*`` entries
    stand for the discriminator / LPIPS / DINOv2 weights the release also holds."""
    state = ldm_vae_state(32, (1, 1, 1, 1, 2), 1, {4}, 32)
    state["loss.discriminator.main.0.weight"] = torch.zeros(2, 3, 4, 4)
    state["loss.logvar"] = torch.zeros(())
    torch.save({"state_dict": state}, path)


def inception_weights(path: Path) -> None:
    """torch-fidelity's Inception-v3 (``inception-v3-compat``) as a plain state-dict file,
    random weights (He-normal convolutions, so features neither vanish nor blow up)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Random(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args, **kwargs):  # keep the random initialisation
            return None

    empty = path.with_suffix(".empty")
    torch.save({}, empty)
    torch.manual_seed(0)
    net = _Random("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save(net.state_dict(), path)
    empty.unlink()


@pytest.fixture(scope="module")
def miniature_run(tmp_path_factory) -> tuple[Path, dict, str]:
    work = tmp_path_factory.mktemp("paper_miniature")
    data = work / "imagenet"
    wnids = write_train_folder(data / "train", CLASSES, TRAIN_PER_CLASS)
    write_flat_val(
        data / "val",
        data / "ILSVRC2012_validation_ground_truth.txt",
        data / "meta.mat",
        wnids,
        VAL_PER_CLASS,
    )
    (work / "models").mkdir()
    sd_vae(work / "models" / "sd-vae-ft-ema")
    vavae_checkpoint(work / "models" / "vavae-imagenet256-f16d32-dinov2.pt")
    inception_weights(work / "models" / "weights-inception-2015-12-05-6726825d.pth")
    config = miniature_config(work)
    plan = plan_then_run(config, work, "paper miniature", timeout=3000)
    return work / "results" / config["run_name"], config, plan


def test_every_paper_rule_runs(miniature_run, tmp_path):
    _, _, plan = miniature_run
    paper_plan = run_snakemake(REPO / "configs" / "paper.yaml", tmp_path, "-n", timeout=300)
    assert paper_plan.returncode == 0, paper_plan.stderr[-3000:]
    paper_rules = set(job_counts(paper_plan.stdout + paper_plan.stderr))
    ours = set(job_counts(plan))
    assert "convert_vae" in paper_rules  # the paper's VA-VAE is the LDM release
    assert ours == paper_rules, paper_rules ^ ours


def test_shapes_of_the_paper_scale(miniature_run):
    r, config, _ = miniature_run
    info = json.loads((r / "data/imagenet/info.json").read_text())
    n_train = CLASSES * TRAIN_PER_CLASS
    assert info["shape"] == [n_train + CLASSES * VAL_PER_CLASS, 256, 256, 3]
    assert info["num_val"] == CLASSES * VAL_PER_CLASS
    meta = pd.read_parquet(r / "data/imagenet/meta.parquet")
    val = meta[meta["split"] == "val"]
    assert (val["source"].str.contains("ILSVRC2012_val_")).all()
    for space, (shape, patch) in SPACES.items():
        stats = json.loads((r / f"latents/{space}/stats.json").read_text())
        assert tuple(stats["shape"][1:]) == shape, space
        c, h, w = shape
        assert c * h * w == {"imagenet_sdvae": 4096, "imagenet_vavae": 8192}[space]
        for name, model in config["models"].items():
            if model["space"] == space:
                assert model["arch"]["patch_size"] == patch
                assert (h // patch) * (w // patch) == 256, name  # tokens per image
                saved = json.loads((r / f"models/{name}/model.json").read_text())
                assert saved["model"]["input_size"] == h and saved["model"]["in_channels"] == c
                assert saved["world_size"] == 2  # torchrun, 2 ranks: the paper's DDP path
    converted = json.loads((r / "vae_converted/imagenet_vavae/config.json").read_text())
    assert converted["latent_channels"] == 32 and len(converted["block_out_channels"]) == 5
    assert "AttnDownEncoderBlock2D" in converted["down_block_types"]
    synthetic = pd.read_parquet(r / "oracle/synthetic.parquet")
    assert set(synthetic["dim"]) == {4096, 8192}


def test_tables_and_claims_written(miniature_run):
    r, _, _ = miniature_run
    from navref.report.claims.verdict import VERDICTS

    for table in ("table1", "table2", "table3", "split_times"):
        for ext in ("html", "md", "parquet"):
            assert (r / f"tables/{table}.{ext}").stat().st_size > 0, (table, ext)
    claims = pd.read_parquet(r / "claims.parquet")
    assert len(claims) > 0 and set(claims["verdict"]) <= set(VERDICTS)
    assert (r / "claims.md").stat().st_size > 0 and (r / "claims.html").stat().st_size > 0
    sweeps = pd.read_parquet(r / "metrics/sweeps.parquet")
    assert sweeps["fid"].notna().all() and len(sweeps) == 1 + 1 + 2  # settings of Tab. 1-3
