"""Tests of the LightningDiT-style velocity network (navref.models.dit)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from navref.models import DIT_SIZES, DiT, DiTConfig, build_model, count_params
from navref.models.dit import apply_rope, rope_2d_angles

TINY = {"depth": 1, "hidden_size": 32, "num_heads": 2}


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core machine the
    threads' spin-waiting slows every op down several-fold; restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Replace every parameter (incl. the zero-initialised ones) by small random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def _expected_params(cfg: DiTConfig) -> int:
    """Parameter count from the architecture, written out independently of the module."""
    d, p, c, k = cfg.hidden_size, cfg.patch_size, cfg.in_channels, cfg.num_classes
    hd, ff = cfg.head_dim, int(2 * cfg.mlp_ratio * d / 3)
    block = (
        (3 * d * d + 3 * d)  # qkv
        + (d * d + d)  # proj
        + (2 * hd if cfg.qk_norm else 0)  # q/k RMSNorm
        + 2 * d  # norm1, norm2
        + (d * 2 * ff + 2 * ff)  # SwiGLU w12
        + (ff * d + d)  # SwiGLU w3
        + (d * 6 * d + 6 * d)  # adaLN
    )
    embed = (p * p * c * d + d) + (cfg.freq_dim * d + d + d * d + d) + (k + 1) * d
    final = d + (d * 2 * d + 2 * d) + (d * p * p * c + p * p * c)
    return cfg.depth * block + embed + final


@pytest.mark.parametrize("size", ["tiny", "small", "medium"])
@pytest.mark.parametrize(("patch", "shape"), [(1, (4, 8, 8)), (2, (4, 8, 8)), (2, (1, 16, 16))])
def test_cpu_sizes_forward_shape_and_zero_init(size, patch, shape):
    c, h, _ = shape
    cfg = DiTConfig.from_size(size, patch_size=patch, input_size=h, in_channels=c, num_classes=5)
    torch.manual_seed(0)
    model = build_model(cfg)
    x = torch.randn(3, *shape)
    out = model(x, torch.rand(3), torch.tensor([0, 4, 5]))
    assert out.shape == x.shape
    # adaLN-zero: the final linear layer and every gate start at zero -> exactly zero output
    assert torch.count_nonzero(out) == 0
    assert count_params(model) == _expected_params(cfg)


def test_cpu_sizes_differ_in_capacity():
    counts = {}
    for size in ("tiny", "small", "medium"):
        cfg = DiTConfig.from_size(size, input_size=8, in_channels=4, num_classes=10)
        with torch.device("meta"):
            counts[size] = count_params(build_model(cfg))
    assert counts["small"] > 4 * counts["tiny"]
    assert counts["medium"] > 4 * counts["small"]


@pytest.mark.parametrize("size", ["S", "B", "XL"])
@pytest.mark.parametrize("patch", [1, 2])
def test_paper_sizes_param_count_on_meta(size, patch):
    cfg = DiTConfig.from_size(
        size, patch_size=patch, input_size=32, in_channels=4, num_classes=1000
    )
    with torch.device("meta"):
        model = build_model(cfg)
    n = count_params(model)
    assert n == _expected_params(cfg)
    # LightningDiT / DiT sizes: S ~33M, B ~130M, XL ~675M (DiT-XL/2: 675M)
    ref = {"S": 33e6, "B": 130e6, "XL": 675e6}[size]
    assert abs(n - ref) / ref < 0.01
    assert len(model.blocks) == DIT_SIZES[size]["depth"]


def test_paper_size_S_forward_small_input():
    cfg = DiTConfig.from_size("S", patch_size=2, input_size=4, in_channels=4, num_classes=10)
    torch.manual_seed(0)
    model = build_model(cfg)
    _randomize(model)
    out = model(torch.randn(2, 4, 4, 4), torch.rand(2), torch.tensor([1, 10]))
    assert out.shape == (2, 4, 4, 4) and torch.isfinite(out).all()


def test_blocks_are_identity_at_init():
    cfg = DiTConfig(**TINY, input_size=8, in_channels=4, num_classes=3, qk_norm=True)
    torch.manual_seed(0)
    model = build_model(cfg)
    h = torch.randn(2, 64, 32)
    c = torch.randn(2, 32)
    ang = rope_2d_angles(8, 8, cfg.head_dim)
    assert torch.equal(model.blocks[0](h, c, ang.cos(), ang.sin()), h)


def test_conditioning_is_wired():
    cfg = DiTConfig(**TINY, patch_size=2, input_size=8, in_channels=4, num_classes=3, qk_norm=True)
    model = build_model(cfg)
    _randomize(model)
    x, t, y = torch.randn(2, 4, 8, 8), torch.tensor([0.3, 0.3]), torch.tensor([0, 1])
    base = model(x, t, y)
    assert not torch.allclose(base, model(x, t + 0.2, y))
    assert not torch.allclose(base, model(x, t, torch.tensor([2, 2])))
    # y=None is the null class (index num_classes), used for classifier-free guidance
    assert torch.equal(model(x, t, None), model(x, t, torch.full((2,), model.null_class)))
    # scalar t broadcasts
    assert torch.equal(model(x, 0.3, y), base)
    # samples are processed independently
    assert torch.allclose(model(x[:1], t[:1], y[:1]), base[:1], atol=1e-6)


def test_rope_relative_position_property():
    head_dim, gh, gw = 16, 5, 6
    ang = rope_2d_angles(gh, gw, head_dim)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(head_dim, generator=g, dtype=torch.float64)
    k = torch.randn(head_dim, generator=g, dtype=torch.float64)
    qr = apply_rope(q.expand(gh * gw, head_dim), ang.cos().double(), ang.sin().double())
    kr = apply_rope(k.expand(gh * gw, head_dim), ang.cos().double(), ang.sin().double())
    scores = qr @ kr.T  # (T, T)

    def pos(r, c):
        return r * gw + c

    # same (dr, dc) -> same score, from different absolute positions
    for dr, dc in [(0, 0), (1, 2), (-2, 1), (3, -4)]:
        vals = [
            scores[pos(r, c), pos(r - dr, c - dc)]
            for r in range(gh)
            for c in range(gw)
            if 0 <= r - dr < gh and 0 <= c - dc < gw
        ]
        vals = torch.stack(vals)
        assert torch.allclose(vals, vals[0].expand_as(vals), atol=1e-5)
    # different offsets give different scores (rotation does something)
    assert not torch.isclose(scores[pos(0, 0), pos(0, 0)], scores[pos(0, 1), pos(0, 0)])
    assert not torch.isclose(scores[pos(0, 0), pos(0, 0)], scores[pos(1, 0), pos(0, 0)])
    # at zero offset the score is the plain dot product
    assert torch.allclose(scores[pos(2, 3), pos(2, 3)], q @ k)


def test_rope_matches_complex_reference():
    """RoPE as complex multiplication of pairs (x_2i + i x_2i+1) by exp(i angle), float64."""
    head_dim, gh, gw, theta = 8, 3, 4, 100.0
    x = torch.randn(2, gh * gw, head_dim, dtype=torch.float64)
    ang = rope_2d_angles(gh, gw, head_dim, theta).double()
    got = apply_rope(x, ang.cos(), ang.sin())
    # reference angles written out: pairs 0..1 use the row, pairs 2..3 the column
    freqs = torch.tensor([theta ** (-0.0 / 4), theta ** (-2.0 / 4)], dtype=torch.float64)
    ref_ang = torch.empty(gh * gw, head_dim // 2, dtype=torch.float64)
    for r in range(gh):
        for c in range(gw):
            ref_ang[r * gw + c] = torch.cat([r * freqs, c * freqs])
    z = torch.complex(x[..., 0::2], x[..., 1::2]) * torch.exp(1j * ref_ang)
    ref = torch.stack([z.real, z.imag], dim=-1).flatten(-2)
    assert torch.allclose(got, ref, atol=1e-12)


def test_unpatchify_inverts_patch_order():
    cfg = DiTConfig(**TINY, patch_size=2, input_size=4, in_channels=3, num_classes=1)
    model = build_model(cfg)
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    # manual patchify: token (r, c) holds x[:, :, 2r:2r+2, 2c:2c+2] laid out as (p, q, C)
    tokens = x.reshape(2, 3, 2, 2, 2, 2).permute(0, 2, 4, 3, 5, 1).reshape(2, 4, 12)
    assert torch.equal(model.unpatchify(tokens), x)


def test_bf16_autocast_forward():
    cfg = DiTConfig(**TINY, patch_size=2, input_size=8, in_channels=4, num_classes=2, qk_norm=True)
    model = build_model(cfg)
    _randomize(model)
    x = torch.randn(2, 4, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, torch.rand(2), torch.tensor([0, 1]))
    ref = model(x, torch.rand(2) * 0 + 0.5, torch.tensor([0, 1]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert ref.dtype == torch.float32


def test_config_dict_round_trip_and_errors():
    cfg = DiTConfig.from_dict({"size": "small", "patch_size": 2, "qk_norm": True})
    assert (cfg.depth, cfg.hidden_size, cfg.num_heads) == (4, 128, 4)
    assert DiTConfig.from_dict(cfg.to_dict()) == cfg
    assert DiTConfig.from_dict({"size": "small", "depth": 7}).depth == 7
    with pytest.raises(ValueError, match="unknown keys"):
        DiTConfig.from_dict({"width": 3})
    with pytest.raises(ValueError, match="unknown DiT size"):
        DiTConfig.from_size("huge")
    with pytest.raises(ValueError, match="divisible"):
        DiTConfig(hidden_size=60, num_heads=7)
    with pytest.raises(ValueError, match="by 4"):
        DiTConfig(hidden_size=12, num_heads=2)  # head dim 6
    with pytest.raises(ValueError, match="input_size"):
        DiT(DiTConfig(**TINY, in_channels=4, num_classes=3))
    model = build_model(dataclasses.replace(cfg, input_size=8, in_channels=4, num_classes=3))
    with pytest.raises(ValueError, match="expects x of shape"):
        model(torch.randn(1, 3, 8, 8), 0.5, torch.tensor([0]))
