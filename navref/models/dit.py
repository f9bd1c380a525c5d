"""Class-conditional diffusion transformer in the LightningDiT style.

The network predicts the velocity v_theta(x_t, t, y) of the linear (rectified-flow)
path x_t = (1 - t) x0 + t x1 with t in [0, 1], t = 0 the Gaussian prior and t = 1 the
data (Lipman et al.; the paper's convention). Relative to the original DiT
(Peebles & Xie) it follows LightningDiT (Yao et al.):

- patch embedding by a strided convolution (patch size p), tokens in row-major order;
- adaLN-zero blocks: shift/scale/gate for attention and MLP regressed from the
  conditioning c = t_emb + y_emb, zero-initialised so that every block starts as the
  identity; a final adaLN layer and a zero-initialised linear head, so the network
  outputs exactly 0 at initialisation;
- RMSNorm instead of LayerNorm, SwiGLU MLP, 2D rotary position embedding on q and k
  (no absolute position embedding), optional qk-norm (RMSNorm over each head);
- a learned class embedding with one extra "null" class (index ``num_classes``) used
  for label dropout during training and classifier-free guidance at sampling;
- t enters through a sinusoidal embedding of ``t * time_scale`` (default 1000) and a
  two-layer MLP.

The defaults above are navref's own models. The released checkpoints need other choices,
all fields of :class:`DiTConfig` (``navref.models.released`` holds the releases' values):
``norm="layer"`` (LayerNorm without affine, eps 1e-6), ``mlp="gelu"`` (GELU(tanh) MLP
``fc1``/``fc2`` of width ``mlp_ratio * hidden_size``), ``pos_embed=True`` (the fixed 2D
sin-cos table of MAE/DiT added after the patch embedding), ``rope=False``,
``time_scale=1.0`` (t in [0, 1] fed as is, as in SiT and LightningDiT, whose linear path
has the same convention: t = 0 noise, t = 1 data) and ``learn_sigma=True`` (the head has
2C outputs per pixel as in DiT/SiT; the last C, a variance, are dropped).

Attention uses :func:`torch.nn.functional.scaled_dot_product_attention`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from navref.models.sizes import DIT_SIZES

#: Normalisation layers: "rms" = RMSNorm with a weight (LightningDiT), "layer" = LayerNorm
#: without affine parameters, eps 1e-6 (DiT, SiT).
NORMS = ("rms", "layer")
#: MLPs: "swiglu" (LightningDiT, keys w12/w3) or "gelu" = GELU(tanh) (DiT, SiT, keys fc1/fc2).
MLPS = ("swiglu", "gelu")


@dataclass(frozen=True)
class DiTConfig:
    """Architecture of a :class:`DiT`.

    ``input_size`` (square latent side H = W), ``in_channels`` and ``num_classes`` may be
    left ``None`` and filled in from the data (``navref.training.train`` does this);
    :func:`build_model` needs them set. ``mlp_ratio`` sets the nominal MLP width
    ``mlp_ratio * hidden_size``; the SwiGLU hidden width is two thirds of it (as in
    LightningDiT), which keeps the parameter count of a GELU MLP of that width.

    ``norm`` ("rms" | "layer"), ``mlp`` ("swiglu" | "gelu"), ``rope``, ``pos_embed``,
    ``learn_sigma`` and ``time_scale`` select the layer variants described in the module
    docstring; the defaults are navref's architecture (a state dict of that architecture
    holds no entry for any of them, so checkpoints written before they existed load).
    """

    depth: int = 2
    hidden_size: int = 64
    num_heads: int = 2
    patch_size: int = 1
    input_size: int | None = None
    in_channels: int | None = None
    num_classes: int | None = None
    mlp_ratio: float = 4.0
    qk_norm: bool = False
    rope_theta: float = 10000.0
    time_scale: float = 1000.0
    freq_dim: int = 256
    norm: str = "rms"
    mlp: str = "swiglu"
    rope: bool = True
    pos_embed: bool = False
    learn_sigma: bool = False
    #: whether the class table has the null row ``num_classes`` (label dropout, CFG); False
    #: for a release trained without one: it has no unconditional velocity
    null_class: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (("norm", NORMS), ("mlp", MLPS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"DiTConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}"
                )
        for name in ("depth", "hidden_size", "num_heads", "patch_size", "freq_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"DiTConfig.{name} must be a positive int, got {value!r}")
        for name in ("input_size", "in_channels", "num_classes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"DiTConfig.{name} must be a positive int or None, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"DiTConfig: hidden_size={self.hidden_size} is not divisible by "
                f"num_heads={self.num_heads}"
            )
        if self.rope and self.head_dim % 4:
            raise ValueError(
                f"DiTConfig: head dim hidden_size/num_heads={self.head_dim} must be divisible "
                "by 4 for the 2D rotary embedding (half per axis, in pairs)"
            )
        if self.input_size is not None and self.input_size % self.patch_size:
            raise ValueError(
                f"DiTConfig: input_size={self.input_size} is not divisible by "
                f"patch_size={self.patch_size}"
            )
        if self.freq_dim % 2:
            raise ValueError(f"DiTConfig.freq_dim must be even, got {self.freq_dim}")
        if self.mlp_ratio <= 0:
            raise ValueError(f"DiTConfig.mlp_ratio must be > 0, got {self.mlp_ratio}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        """MLP hidden width: int(2/3 * mlp_ratio * hidden_size) for SwiGLU (LightningDiT),
        int(mlp_ratio * hidden_size) for the GELU MLP (DiT/SiT)."""
        if self.mlp == "gelu":
            return int(self.mlp_ratio * self.hidden_size)
        return int(2 * self.mlp_ratio * self.hidden_size / 3)

    @property
    def out_channels(self) -> int:
        """Channels of the head's output: C, or 2C with a learned-sigma head."""
        return 2 * self.in_channels if self.learn_sigma else self.in_channels

    @classmethod
    def from_size(cls, size: str, **overrides: Any) -> DiTConfig:
        """Config of a named size in :data:`DIT_SIZES`, with field overrides."""
        if size not in DIT_SIZES:
            raise ValueError(f"unknown DiT size {size!r}; choose one of {sorted(DIT_SIZES)}")
        return cls.from_dict({**DIT_SIZES[size], **overrides})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiTConfig:
        """Build from a dict of fields. An optional key ``size`` (a :data:`DIT_SIZES`
        name) supplies depth / hidden_size / num_heads; explicit keys override it."""
        d = dict(d)
        size = d.pop("size", None)
        if size is not None:
            if size not in DIT_SIZES:
                raise ValueError(f"unknown DiT size {size!r}; choose one of {sorted(DIT_SIZES)}")
            d = {**DIT_SIZES[size], **d}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"DiTConfig: unknown keys {unknown}; valid keys: {sorted(names)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- layers


def rms_norm(dim: int) -> nn.RMSNorm:
    """RMSNorm y = x / sqrt(mean(x^2) + eps) * weight over the last axis (dim), eps = 1e-6.

    ``torch.nn.RMSNorm`` (state-dict key ``weight``, as before); on the CPU its output and
    gradients are bitwise equal to the hand-written float32 version it replaced, for float32
    and bf16 inputs (bf16 inputs are normalised in float32 internally).
    """
    return nn.RMSNorm(dim, eps=1e-6)


def make_norm(kind: str, dim: int) -> nn.Module:
    """Token normalisation of a block or the final layer: ``kind`` in :data:`NORMS`."""
    if kind == "layer":
        return nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
    return rms_norm(dim)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation x * (1 + scale) + shift, per sample (shift, scale: (B, D))."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding [cos(t w_k), sin(t w_k)], w_k = max_period^(-k / (dim/2)).

    ``t`` (B,) is used as given (the model scales t in [0, 1] by ``time_scale`` first).
    """
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def sincos_2d_table(dim: int, grid: int) -> torch.Tensor:
    """Fixed 2D sin-cos position table (grid * grid, dim) of MAE / DiT / SiT / LightningDiT.

    Tokens in row-major order (index r * grid + c). The first dim / 2 features encode the
    column c, the last dim / 2 the row r (the releases' ``meshgrid(w, h)`` order); each half
    is [sin(pos w_k), cos(pos w_k)] with w_k = 10000^(-k / (dim / 4)), k < dim / 4.
    Computed in float64, returned as float32. Raises ValueError if dim is not a multiple of 4.
    """
    if dim % 4:
        raise ValueError(f"sincos_2d_table: dim={dim} must be divisible by 4")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    pos = torch.arange(grid, dtype=torch.float64)
    rows, cols = torch.meshgrid(pos, pos, indexing="ij")

    def axis(p: torch.Tensor) -> torch.Tensor:
        ang = p.reshape(-1, 1) * omega
        return torch.cat([ang.sin(), ang.cos()], dim=1)

    return torch.cat([axis(cols), axis(rows)], dim=1).float()


def rope_2d_angles(
    grid_h: int, grid_w: int, head_dim: int, theta: float = 10000.0, device: Any = None
) -> torch.Tensor:
    """Rotation angles (T, head_dim / 2) of the 2D rotary embedding for a grid_h x grid_w grid.

    Tokens are in row-major order (token index r * grid_w + c). The first half of the
    rotated pairs encodes the row r, the second half the column c, each with the
    frequencies theta^(-2i / (head_dim / 2)), i = 0 .. head_dim / 4 - 1.
    """
    if head_dim % 4:
        raise ValueError(f"rope_2d_angles: head_dim={head_dim} must be divisible by 4")
    axis_dim = head_dim // 2
    freqs = theta ** (
        -torch.arange(0, axis_dim, 2, dtype=torch.float32, device=device) / axis_dim
    )  # (head_dim / 4,)
    rows = torch.arange(grid_h, dtype=torch.float32, device=device)
    cols = torch.arange(grid_w, dtype=torch.float32, device=device)
    r, c = torch.meshgrid(rows, cols, indexing="ij")
    ang_r = r.reshape(-1, 1) * freqs  # (T, head_dim / 4)
    ang_c = c.reshape(-1, 1) * freqs
    return torch.cat([ang_r, ang_c], dim=-1)  # (T, head_dim / 2)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive pairs (x_{2i}, x_{2i+1}) of the last axis by the given angles.

    x: (..., T, head_dim); cos, sin: (T, head_dim / 2). Computed in float32, returned in
    x's dtype. For a query at position m and a key at position n the product
    <R_m q, R_n k> depends only on m - n (per axis).
    """
    xf = x.float().reshape(*x.shape[:-1], -1, 2)
    x0, x1 = xf[..., 0], xf[..., 1]
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.flatten(-2).to(x.dtype)


class Attention(nn.Module):
    """Multi-head self-attention with optional 2D RoPE on q, k and optional qk-norm
    (RMSNorm per head for ``norm="rms"``; LayerNorm with affine, eps 1e-5, as LightningDiT
    uses without RMSNorm, for ``norm="layer"``)."""

    def __init__(self, dim: int, num_heads: int, qk_norm: bool, norm: str = "rms") -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        head_norm = rms_norm if norm == "rms" else nn.LayerNorm
        self.q_norm = head_norm(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = head_norm(self.head_dim) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor | None, sin: torch.Tensor | None
    ) -> torch.Tensor:
        """x (B, T, D); cos, sin (T, head_dim / 2) rotary angles, or None for no RoPE."""
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, heads, T, head_dim)
        q, k = self.q_norm(q), self.k_norm(k)
        if cos is not None:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class SwiGLU(nn.Module):
    """w3(silu(x W1) * (x W2)), with W1 and W2 fused in one linear layer."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(a) * b)


class GeluMLP(nn.Module):
    """fc2(gelu_tanh(fc1 x)): the MLP of DiT and SiT (timm ``Mlp``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DiTBlock(nn.Module):
    """Pre-norm transformer block with adaLN-zero conditioning."""

    def __init__(self, conf: DiTConfig) -> None:
        super().__init__()
        d = conf.hidden_size
        self.norm1 = make_norm(conf.norm, d)
        self.attn = Attention(d, conf.num_heads, conf.qk_norm, conf.norm)
        self.norm2 = make_norm(conf.norm, d)
        mlp = SwiGLU if conf.mlp == "swiglu" else GeluMLP
        self.mlp = mlp(d, conf.mlp_hidden)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def forward(
        self, x: torch.Tensor, c: torch.Tensor, cos: torch.Tensor | None, sin: torch.Tensor | None
    ) -> torch.Tensor:
        sh_a, sc_a, g_a, sh_m, sc_m, g_m = self.adaLN_modulation(c).chunk(6, dim=-1)
        # the updates may be bf16 under autocast; they accumulate in the stream's dtype
        # (float32), else small adaLN-zero updates round away (a no-op without autocast)
        att = g_a.unsqueeze(1) * self.attn(modulate(self.norm1(x), sh_a, sc_a), cos, sin)
        x = x + att.to(x.dtype)
        x = x + (g_m.unsqueeze(1) * self.mlp(modulate(self.norm2(x), sh_m, sc_m))).to(x.dtype)
        return x


class FinalLayer(nn.Module):
    """adaLN (shift, scale) + zero-initialised linear map to p * p * C per token."""

    def __init__(self, d: int, out_dim: int, norm: str = "rms") -> None:
        super().__init__()
        self.norm = make_norm(norm, d)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.linear = nn.Linear(d, out_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


# --------------------------------------------------------------------------- model


class DiT(nn.Module):
    """Velocity network v_theta(x, t, y): (B, C, H, W), (B,), (B,) -> (B, C, H, W).

    ``y == num_classes`` (the null class, :attr:`null_class`) or ``y=None`` gives the
    unconditional velocity used for classifier-free guidance.
    """

    def __init__(self, conf: DiTConfig) -> None:
        super().__init__()
        for name in ("input_size", "in_channels", "num_classes"):
            if getattr(conf, name) is None:
                raise ValueError(
                    f"DiT needs DiTConfig.{name} set (it is None); fill it from the data, "
                    f"e.g. dataclasses.replace(conf, {name}=...)"
                )
        self.conf = conf
        d, p, c_in = conf.hidden_size, conf.patch_size, conf.in_channels
        self.grid = conf.input_size // p
        self.x_embedder = nn.Conv2d(c_in, d, kernel_size=p, stride=p)
        self.t_embedder = nn.Sequential(nn.Linear(conf.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.y_embedder = nn.Embedding(conf.num_classes + int(conf.null_class), d)
        self.blocks = nn.ModuleList([DiTBlock(conf) for _ in range(conf.depth)])
        self.final_layer = FinalLayer(d, p * p * conf.out_channels, conf.norm)
        if conf.pos_embed:  # fixed, but saved in the state dict as the releases do
            self.register_buffer("pos_embed", sincos_2d_table(d, self.grid).unsqueeze(0))
        self.initialize_weights()

    @property
    def null_class(self) -> int:
        return self.conf.num_classes

    def initialize_weights(self) -> None:
        """DiT initialisation: xavier-uniform linears, N(0, 0.02) embeddings, adaLN-zero."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        w = self.x_embedder.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.x_embedder.bias)
        nn.init.normal_(self.y_embedder.weight, std=0.02)
        nn.init.normal_(self.t_embedder[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, p * p * C') -> (B, C', H, W), C' = ``conf.out_channels``."""
        p, c, g = self.conf.patch_size, self.conf.out_channels, self.grid
        x = x.reshape(x.shape[0], g, g, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, g * p, g * p)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        conf = self.conf
        if x.ndim != 4 or x.shape[1:] != (conf.in_channels, conf.input_size, conf.input_size):
            raise ValueError(
                f"DiT expects x of shape (B, {conf.in_channels}, {conf.input_size}, "
                f"{conf.input_size}), got {tuple(x.shape)}"
            )
        b = x.shape[0]
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        if t.ndim == 0:
            t = t.expand(b)
        if y is None:
            if not conf.null_class:
                raise ValueError(
                    "this DiT has no null class (DiTConfig.null_class=False: a release trained "
                    "without label dropout): it has no unconditional velocity; pass labels y"
                )
            y = torch.full((b,), self.null_class, dtype=torch.long, device=x.device)
        # (B, T, D) residual stream in x's dtype, float32 even under autocast (see DiTBlock);
        # the patch embedding (one small conv) runs in it too, not rounded to bf16
        with torch.autocast(x.device.type, enabled=False):
            h = self.x_embedder(x).flatten(2).transpose(1, 2)
        if conf.pos_embed:
            h = h + self.pos_embed
        t_emb = self.t_embedder(timestep_embedding(t * conf.time_scale, conf.freq_dim))
        c = t_emb + self.y_embedder(y)
        cos = sin = None
        if conf.rope:
            ang = rope_2d_angles(self.grid, self.grid, conf.head_dim, conf.rope_theta, x.device)
            cos, sin = ang.cos(), ang.sin()
        for block in self.blocks:
            h = block(h, c, cos, sin)
        with torch.autocast(x.device.type, enabled=False):  # the small head in float32 too
            out = self.unpatchify(self.final_layer(h.to(x.dtype), c.to(x.dtype)))
        return out[:, : conf.in_channels] if conf.learn_sigma else out


def build_model(conf: DiTConfig) -> DiT:
    """Instantiate a freshly initialised :class:`DiT` (uses the global torch RNG)."""
    return DiT(conf)


def count_params(model: nn.Module) -> int:
    """Number of parameters (works on the meta device too)."""
    return sum(p.numel() for p in model.parameters())
