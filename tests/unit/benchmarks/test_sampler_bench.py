"""benchmarks/sampler_bench.py: the FLOPs of a DiT forward counted from its architecture
agree with torch's own FLOP counter (torch.utils.flop_counter) on the same forward."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from navref.models.dit import DiTConfig, build_model


@pytest.mark.parametrize(
    "arch",
    [
        {"size": "tiny", "patch_size": 2},
        {"size": "small", "patch_size": 1, "mlp": "gelu"},
        {"depth": 1, "hidden_size": 32, "num_heads": 2, "patch_size": 4, "learn_sigma": True},
    ],
)
def test_forward_flops_match_torch_counter(arch, benchmark_script):
    conf = DiTConfig.from_dict({**arch, "input_size": 8, "in_channels": 4, "num_classes": 10})
    model = build_model(conf).eval()
    x, t, y = torch.randn(3, 4, 8, 8), torch.rand(3), torch.tensor([0, 1, 10])
    # the math backend runs attention as two bmm, which the counter sees (it misses the
    # fused CPU kernel)
    with FlopCounterMode(display=False) as counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        model(x, t, y)
    assert benchmark_script("sampler_bench").forward_flops(conf, 3) == counter.get_total_flops()
