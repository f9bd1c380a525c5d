"""navref.report.selection: which model a figure shows, and tau labels."""

from __future__ import annotations

import pytest

from navref.report import selection as S


def _trained(size, space="vae", **arch):
    return {"space": space, "arch": {"size": size, **arch}, "train": {"steps": 10}}


def test_block_params_counts_depth_and_width():
    # tiny: depth 2, width 64 -> 2 x 18 x 64^2 by hand
    assert S.block_params(_trained("tiny")) == 2 * 18 * 64**2
    assert S.block_params(_trained("tiny", depth=5)) == 5 * 18 * 64**2
    assert S.block_params(_trained("custom", depth=3, hidden_size=10)) == 3 * 18 * 100
    xl = {"space": "v", "arch": "LightningDiT-XL/1", "pretrained": "x"}
    assert S.block_params(xl) == 28 * 18 * 1152**2
    with pytest.raises(ValueError, match="depth"):
        S.block_params(_trained("custom"))
    with pytest.raises(ValueError, match="unknown released arch"):
        S.block_params({"arch": "Nope-XL/1"})


def test_largest_model_is_by_parameters_not_by_order():
    models = {"a": _trained("tiny"), "b": _trained("small"), "c": _trained("tiny", depth=40)}
    assert S.largest_model(models) == "c"  # a deep "tiny" beats "small" (40 x 64^2 > 4 x 128^2)
    assert S.largest_model({"x": _trained("small"), "y": _trained("small")}) == "x"  # tie: first
    assert S.largest_model({}) is None


def test_space_models_keeps_every_space():
    models = {
        "t": _trained("tiny", "vae"), "s": _trained("small", "vae"),
        "p": _trained("tiny", "pix"), "q": _trained("medium", "pix2"), "r": _trained("tiny", "pix2"),
    }  # fmt: skip
    assert S.space_models(models, "small") == {"vae": ["s"], "pix": ["p"], "pix2": ["q"]}
    assert S.space_models(models, "tiny") == {"vae": ["t"], "pix": ["p"], "pix2": ["r"]}
    assert S.space_models(models) == {"vae": ["s"], "pix": ["p"], "pix2": ["q"]}


def test_tau_text_absolute_with_split_multiple_and_sorts_as_numbers():
    assert S.tau_text(0.54, 0.36) == "0.54 (1.5 × split)"
    assert S.tau_text(0.54) == "0.54"
    assert S.tau_text(0.3, float("nan")) == "0.30"
    taus = [0.0, 0.09, 0.18, 0.36, 0.54, 0.72, 1.0]
    texts = [S.tau_text(t, 0.36) for t in taus]
    assert sorted(texts) == texts  # text order is numeric order (unlike "s0.25" after "1.0")
