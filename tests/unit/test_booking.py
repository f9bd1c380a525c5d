"""What a rule books (navref.booking): threads follow the GPUs' CPUs, several GPUs one node."""

from __future__ import annotations

import pytest

from navref.booking import Booking, booking, check_bookings
from navref.config import ConfigError


@pytest.mark.parametrize(
    ("entry", "want"),
    [
        ({}, Booking(1)),
        ({"threads": 16}, Booking(16)),
        ({"gpu": 1, "cpus_per_gpu": 8}, Booking(8, 1, 8)),
        ({"gpu": 8, "cpus_per_gpu": 8}, Booking(64, 8, 8)),
        ({"gpu": 2}, Booking(2, 2, 1)),
        ({"gpu": 8, "threads": 10}, Booking(16, 8, 2)),  # ceil(10 / 8) CPUs per GPU
        ({"gpu": 1, "threads": 8, "cpus_per_gpu": 8}, Booking(8, 1, 8)),
        ({"gpu": 0, "threads": 3, "cpus_per_gpu": 8}, Booking(3)),
    ],
)
def test_threads_are_what_the_gpus_bring(entry, want):
    got = booking("r", entry)
    assert got == want
    if got.gpu:  # what SLURM grants: --gpus x --cpus-per-gpu
        assert got.threads == got.gpu * got.cpus_per_gpu >= entry.get("threads", 0)


def test_several_gpus_book_one_node():
    assert booking("r", {"gpu": 8, "cpus_per_gpu": 8}).gpu_resources() == {
        "gpu": 8,
        "cpus_per_gpu": 8,
        "nodes": 1,
    }
    assert booking("r", {"gpu": 1}).gpu_resources() == {"gpu": 1, "cpus_per_gpu": 1}
    assert booking("r", {"threads": 4}).gpu_resources() == {}


def test_threads_contradicting_the_gpus_cpus_are_a_config_error():
    with pytest.raises(ConfigError, match=r"resources.train_model: threads 4 != gpu 8 x"):
        check_bookings(
            {
                "oracle_objective": {"gpu": 1},
                "train_model": {"gpu": 8, "threads": 4, "cpus_per_gpu": 8},
            }
        )
