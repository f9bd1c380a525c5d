"""A checkpoint of no released size: the load error names ``arch_overrides`` with the values
read from the file's tensor shapes, as YAML that loads it when pasted into the config."""

from __future__ import annotations

import pytest
import torch
import yaml

from navref.models.dit import DiT, rope_2d_angles
from navref.models.released import (
    OFFICIAL_TO_NAVREF,
    arch_overrides_hint,
    infer_arch,
    load_released,
    released_config,
)

pytestmark = pytest.mark.usefixtures("single_thread")
SHAPE = {"input_size": 4, "in_channels": 8, "num_classes": 3}


def _save_official(model: DiT, path, rope: bool) -> None:
    """``model`` in its release's format (official key names, {"ema", "model"}), with
    LightningDiT's saved RoPE tables when ``rope``."""
    state = model.state_dict()
    for key in list(state):
        for official, ours in OFFICIAL_TO_NAVREF:
            if key.startswith(ours):
                state[official + key[len(ours) :]] = state.pop(key)
                break
    if rope:
        conf = model.conf
        ang = rope_2d_angles(model.grid, model.grid, conf.head_dim, conf.rope_theta)
        state["feat_rope.freqs_cos"] = torch.cos(ang).repeat_interleave(2, dim=-1)
        state["feat_rope.freqs_sin"] = torch.sin(ang).repeat_interleave(2, dim=-1)
    torch.save({"ema": state, "model": state}, path)


def _snippet(message: str) -> dict:
    """The YAML the error message offers (the lines after 'set in its `models` entry')."""
    head, _, tail = message.partition("set in its `models` entry")
    assert tail, message
    return yaml.safe_load("\n".join(tail.splitlines()[1:]))


def test_cut_down_lightningdit_error_gives_arch_overrides_that_load(tmp_path):
    small = {"depth": 3, "hidden_size": 96, "num_heads": 6, "patch_size": 2, "mlp_ratio": 2.0}
    torch.manual_seed(0)
    model = DiT(released_config("LightningDiT-XL/1", **small, **SHAPE))
    path = tmp_path / "cut.pt"
    _save_official(model, path, rope=True)
    with pytest.raises(ValueError, match="no released name") as err:
        load_released(path, "LightningDiT-XL/1", **SHAPE)
    message = str(err.value)
    assert "arch_overrides" in message and "in_channels, input_size and num_classes" in message
    pasted = _snippet(message)
    assert pasted == {"arch": "LightningDiT-XL/1", "arch_overrides": small}
    loaded = load_released(path, pasted["arch"], **pasted["arch_overrides"], **SHAPE)
    x, t, y = torch.randn(2, 8, 4, 4), torch.rand(2), torch.tensor([0, 3])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, y), model.eval()(x, t, y))


def test_sit_like_hint_marks_the_head_count_as_a_guess(tmp_path):
    """SiT saves no RoPE table and no q-norm: num_heads is not in its shapes, so the
    snippet says so; another family's name in the config is replaced by the file's."""
    small = {"depth": 2, "hidden_size": 128, "num_heads": 4, "patch_size": 2}
    model = DiT(released_config("SiT-XL/2", **small, **SHAPE))
    path = tmp_path / "sit.pt"
    _save_official(model, path, rope=False)
    with pytest.raises(ValueError, match=r"a guess \(hidden_size / 64\)") as err:
        load_released(path, "LightningDiT-B/1", **SHAPE)
    pasted = _snippet(str(err.value))
    assert pasted["arch"] == "SiT-S/2"
    assert pasted["arch_overrides"] == {**small, "num_heads": 2}  # the guess: 128 / 64


def test_infer_arch_reads_flags_that_differ_from_the_release():
    conf = released_config("SiT-XL/2", depth=1, hidden_size=64, num_heads=4, learn_sigma=False,
                           qk_norm=True, **SHAPE)  # fmt: skip
    inferred = infer_arch(DiT(conf).state_dict())
    assert inferred["num_heads"] == 4  # from the q-norm weights (one per head dimension)
    assert inferred["learn_sigma"] is False and inferred["qk_norm"] is True
    hint = yaml.safe_load(arch_overrides_hint(inferred, "SiT-XL/2"))
    assert hint["arch_overrides"] == {
        "depth": 1, "hidden_size": 64, "num_heads": 4, "patch_size": 2,
        "learn_sigma": False, "qk_norm": True,
    }  # fmt: skip
