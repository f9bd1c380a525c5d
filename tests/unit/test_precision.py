"""Precision of network forwards outside training (navref.precision): bf16 autocast around
the networks only; ODE state, losses and the oracle stay float32."""

from __future__ import annotations

import pytest
import torch

from navref.models import DiTConfig, build_model
from navref.oracle import oracle_velocity
from navref.precision import autocast, autocast_dtype
from navref.probes import loss_curves
from navref.sampling import ModelVelocity, OracleVelocity, make_noise, sample, uniform_grid

pytestmark = pytest.mark.usefixtures("single_thread")


def test_autocast_dtype_and_context():
    assert autocast_dtype("fp32") is None and autocast_dtype("bf16") is torch.bfloat16
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'bf16'\)"):
        autocast_dtype("float16")
    lin, x = torch.nn.Linear(4, 4), torch.randn(2, 4)
    with autocast("cpu", "bf16"):
        assert lin(x).dtype == torch.bfloat16
    with autocast("cpu", "fp32"):
        assert lin(x).dtype == torch.float32


def _dit() -> torch.nn.Module:
    cfg = DiTConfig(depth=2, hidden_size=32, num_heads=2, patch_size=2, input_size=4,
                    in_channels=2, num_classes=2)  # fmt: skip
    model = build_model(cfg).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def test_sampling_under_bf16_keeps_the_state_float32_and_close():
    """fp32 is bitwise no autocast; bf16 changes the forwards (so it is active) but the ODE
    state stays float32 and within bf16's relative precision of the float32 samples."""
    provider = ModelVelocity(_dit(), 2, mode="cond")
    noise, y, grid = make_noise((6, 2, 4, 4), seed=1), torch.tensor([0, 1] * 3), uniform_grid(8)
    with torch.no_grad():
        plain = sample(provider, grid, noise, y)
        with autocast("cpu", "fp32"):
            fp32 = sample(provider, grid, noise, y)
        with autocast("cpu", "bf16"):
            bf16 = sample(provider, grid, noise, y)
    assert torch.equal(fp32, plain)
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, plain)
    rel = ((bf16 - plain).norm() / plain.norm()).item()
    assert rel < 2e-2, rel


def test_oracle_paths_ignore_bf16_autocast():
    """The oracle velocity and the loss curves of an oracle 'model' are the same numbers
    with and without bf16 autocast around them (the oracle runs float32 inside)."""
    g = torch.Generator().manual_seed(0)
    data, labels = torch.randn(12, 2, 2, 2, generator=g), torch.arange(12) % 2
    oracle = OracleVelocity(data, labels, conditional=True)
    x, y = torch.randn(5, 2, 2, 2, generator=g), torch.tensor([0, 1, 0, 1, 1])
    with autocast("cpu", "bf16"):
        v_bf16 = oracle(x, 0.7, y)
    assert torch.equal(v_bf16, oracle(x, 0.7, y))

    def model(x, t, y):
        return oracle_velocity(x, float(t[0]), data.reshape(12, -1), data_labels=labels, labels=y)

    kw = dict(num_samples=10, seed=2, batch_size=5)
    ref = loss_curves(model, data, labels, 2, [0.2, 0.8], **kw)
    got = loss_curves(model, data, labels, 2, [0.2, 0.8], autocast=torch.bfloat16, **kw)
    assert got["mean"].tolist() == ref["mean"].tolist()
    assert got[got.loss_kind == "oracle"]["mean"].abs().max() < 1e-8


# ----------------------------------------------------------------------------- auto


def _cpu_flags() -> set[str] | None:
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return None
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def test_native_bf16_on_the_cpu_matches_its_flags():
    """torch's CPU probe against the kernel's own flag list (Linux only)."""
    from navref.precision import native_bf16

    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo: nothing independent to check the probe against")
    assert native_bf16("cpu") == bool({"avx512_bf16", "amx_bf16"} & flags)
    assert native_bf16("meta") is False


@pytest.mark.parametrize("native", [True, False])
def test_auto_resolves_by_the_device_and_named_precisions_pass(monkeypatch, native):
    import navref.precision as P

    monkeypatch.setattr(P, "native_bf16", lambda device: native)
    assert P.resolve_precision("auto", "cpu") == ("bf16" if native else "fp32")
    assert P.resolve_precision("fp32", "cpu") == "fp32"
    assert P.resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match=r"one of \('fp32', 'bf16', 'auto'\)"):
        P.resolve_precision("half", "cpu")


def test_job_precision_resolves_auto_on_the_jobs_device(monkeypatch):
    from types import SimpleNamespace

    import navref.precision as P
    from navref.workflow import job_precision

    seen = []
    monkeypatch.setattr(P, "native_bf16", lambda device: seen.append(str(device)) or True)
    job = SimpleNamespace(params=SimpleNamespace(precision="auto", device="cpu"))
    assert job_precision(job) == "bf16" and seen == ["cpu"]
    assert job_precision(SimpleNamespace(params=SimpleNamespace(precision="fp32"))) == "fp32"
    assert job_precision(SimpleNamespace(params=SimpleNamespace())) == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        job_precision(SimpleNamespace(params=SimpleNamespace(precision="fp16")))
