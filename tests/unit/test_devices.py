"""A job that booked GPUs fails at its start when CUDA cannot start (unless the config
says device: cpu), and every job logs the device it runs on."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
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


def test_resident_rows_only_when_off_the_cpu_and_within_the_budget(tmp_path):
    """Latents read by every t go to the device once when they fit RESIDENT_SHARE of its
    free memory; on the CPU a memmap stays a memmap; too large: streamed as before."""
    from navref.devices import RESIDENT_SHARE, copy_rows, resident_rows

    arr = np.arange(7 * 6, dtype=np.float32).reshape(7, 2, 3) / 7
    np.save(tmp_path / "z.npy", arr)
    mm = np.load(tmp_path / "z.npy", mmap_mode="r")
    assert resident_rows(mm, "cpu", free_bytes=10**12) is mm
    need = arr.size * 4
    kept = resident_rows(mm, "meta", free_bytes=int(need / RESIDENT_SHARE))
    assert kept.device.type == "meta" and kept.shape == (7, 2, 3) and kept.dtype == torch.float32
    assert resident_rows(mm, "meta", free_bytes=int(need / RESIDENT_SHARE) - 1) is mm
    assert resident_rows(mm, "meta") is mm  # free memory unknown: stream
    for source in (mm, torch.from_numpy(arr).double()):  # chunks of 3 rows: 3 + 3 + 1
        got = copy_rows(source, "cpu", chunk_rows=3)
        assert got.dtype == torch.float32 and torch.equal(got, torch.from_numpy(arr))


def test_job_precision_reads_the_rules_param():
    from navref.workflow import job_precision

    assert job_precision(SimpleNamespace(params=SimpleNamespace())) == "fp32"
    assert job_precision(SimpleNamespace(params=SimpleNamespace(precision="bf16"))) == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        job_precision(SimpleNamespace(params=SimpleNamespace(precision="fp16")))


def _fake_oom_above(limit: int, calls: list[int]):
    """``fn(start, stop)`` returning the squares of range(start, stop), raising CUDA's
    out-of-memory error for slices longer than ``limit`` (a GPU that fits ``limit``)."""

    def fn(start: int, stop: int) -> torch.Tensor:
        calls.append(stop - start)
        if stop - start > limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (fake, {stop - start})")
        return torch.arange(start, stop) ** 2

    return fn


def test_adaptive_batch_halves_on_out_of_memory_and_keeps_the_results(caplog):
    """Slices over the limit fail and are retried at half the size; the size stays halved;
    the concatenated results equal the unbatched ones; each halving is logged."""
    from navref.devices import AdaptiveBatch

    calls: list[int] = []
    batch = AdaptiveBatch(16, "demo forward")
    with caplog.at_level(logging.WARNING, logger="navref.devices"):
        got = batch.map(_fake_oom_above(5, calls), 23)
    assert torch.equal(torch.cat(got), torch.arange(23) ** 2)
    assert calls == [16, 8, 4, 4, 4, 4, 4, 3] and batch.size == 4
    assert "demo forward: out of GPU memory with a batch of 16; retrying with batches of 8" in (
        caplog.text
    )
    assert "batch of 8; retrying with batches of 4" in caplog.text
    calls.clear()  # without an error: slices as configured, nothing logged
    caplog.clear()
    assert torch.equal(torch.cat(AdaptiveBatch(10).map(_fake_oom_above(99, calls), 23)),
                       torch.arange(23) ** 2)  # fmt: skip
    assert calls == [10, 10, 3] and not caplog.text


def test_adaptive_batch_raises_when_one_item_does_not_fit():
    from navref.devices import AdaptiveBatch

    calls: list[int] = []
    with pytest.raises(torch.cuda.OutOfMemoryError, match="fake, 1"):
        AdaptiveBatch(4).map(_fake_oom_above(0, calls), 3)
    assert calls == [3, 1]  # 3 -> 1 (half of 3, rounded down): fails at one item
    with pytest.raises(ValueError, match="batch size must be >= 1"):
        AdaptiveBatch(0)
