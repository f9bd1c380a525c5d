"""Issue 13, case 3: the null-class index of classifier-free guidance comes from the model."""

from __future__ import annotations

import pytest
import torch

from navref.models import DiT, DiTConfig
from navref.sampling import ModelVelocity


def _dit(num_classes: int) -> DiT:
    torch.manual_seed(0)
    conf = DiTConfig(depth=1, hidden_size=16, num_heads=2, input_size=4, in_channels=2,
                     num_classes=num_classes)  # fmt: skip
    return DiT(conf).eval()


@pytest.mark.parametrize("wrong", [9, 11])
def test_wrong_num_classes_names_both_numbers(wrong):
    with pytest.raises(ValueError, match=rf"num_classes={wrong}.*null class is 10"):
        ModelVelocity(_dit(10), wrong, mode="cfg", cfg_scale=2.0)


def test_unconditional_pass_uses_the_models_null_class():
    model = _dit(10)
    x, y = torch.randn(3, 2, 4, 4), torch.tensor([0, 4, 9])
    with torch.no_grad():
        got = ModelVelocity(model, 10, mode="uncond")(x, 0.3, y)
        t = torch.full((3,), 0.3)
        expected = model(x, t, None)  # DiT's own unconditional (null-class) forward
    torch.testing.assert_close(got, expected)
    assert ModelVelocity(model, 10, mode="cfg").null_class == 10
