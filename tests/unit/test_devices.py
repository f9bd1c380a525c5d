"""A job that booked GPUs fails at its start when CUDA cannot start (unless the config
says device: cpu), and every job logs the device it runs on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from navref.workflow import rule_context

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")


def _job(tmp_path, gpus: int, device: str | None):
    params = SimpleNamespace(device=device) if device else SimpleNamespace()
    return SimpleNamespace(
        log=[str(tmp_path / "rule.log")], rule="demo", threads=1, wildcards={},
        resources=SimpleNamespace(gpu=gpus), params=params,
    )  # fmt: skip


@needs_no_cuda
@pytest.mark.parametrize("device", ["auto", None])
def test_booked_gpus_without_cuda_fail_at_start(tmp_path, device):
    ran = []
    with pytest.raises(SystemExit, match=r"booked 2 GPU\(s\).*device: cpu"):
        with rule_context(_job(tmp_path, 2, device)):
            ran.append(True)
    assert not ran
    assert "booked 2 GPU(s)" in (tmp_path / "rule.log").read_text()


@pytest.mark.parametrize(("gpus", "device"), [(2, "cpu"), (0, "auto"), (0, None)])
def test_cpu_on_purpose_runs_and_logs_its_device(tmp_path, gpus, device):
    with rule_context(_job(tmp_path, gpus, device)) as log:
        log.info("working")
    text = (tmp_path / "rule.log").read_text()
    expected = "device: cuda:" if torch.cuda.is_available() and device != "cpu" else "device: cpu"
    assert expected in text and "working" in text


def test_concurrent_local_jobs_get_distinct_gpus(tmp_path, monkeypatch):
    """Claims are per process (flock): a second process sees the first one's GPUs taken."""
    import subprocess
    import sys

    from navref.devices import claim_local_gpus

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    other = (
        "import os, sys; from navref.devices import claim_local_gpus\n"
        f"with claim_local_gpus(2, {str(tmp_path)!r}, 4) as got:\n"
        "    print(got, os.environ['CUDA_VISIBLE_DEVICES'])\n"
    )
    with claim_local_gpus(2, tmp_path, 4) as mine:
        assert mine == [0, 1]
        import os

        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
        out = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True)
        assert out.stdout.strip() == "[2, 3] 2,3", out.stderr
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    with claim_local_gpus(4, tmp_path, 4) as all_four:  # released on exit
        assert all_four == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="books 5 GPU"):
        with claim_local_gpus(5, tmp_path, 4):
            pass
