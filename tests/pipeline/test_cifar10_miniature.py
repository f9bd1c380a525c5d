"""configs/cifar10.yaml in miniature: the config with tests/pipeline/configs/cifar10_miniature.yaml
merged over it, run to the claims through snakemake on 2 CPU cores.

The test writes CIFAR-10 in its native format (``data_batch_1..5``, ``test_batch`` and
``batches.meta``: Python pickles of dicts with bytes keys, ``data`` as uint8 rows of 3072
channel-major bytes), a few images per class, and torch-fidelity's Inception-v3 as a
state-dict file with random weights. It checks that every rule of the CIFAR-10 config runs
once, and the shapes of the regime: 32x32x3 pixels (D = 3072), 256 tokens per model.

Marked ``paper`` (and ``slow``), like the paper miniature.
"""

from __future__ import annotations

import json
import pickle
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, job_counts, plan_then_run, run_snakemake
from test_paper_miniature import _fill, inception_weights, merge

pytestmark = [pytest.mark.slow, pytest.mark.paper]

CONFIG = REPO / "configs" / "cifar10.yaml"
OVERLAY = REPO / "tests" / "pipeline" / "configs" / "cifar10_miniature.yaml"
TRAIN_PER_CLASS_PER_BATCH, VAL_PER_CLASS = 1, 1


class Py2Pickler(pickle._Pickler):
    """Pickle protocol 2 as Python 2's cPickle wrote the official batches: a byte string is a
    ``str`` (SHORT_BINSTRING / BINSTRING opcodes). Python 3's protocol 2 instead writes
    ``bytes`` as ``_codecs.encode(...)`` calls, which the loader's restricted unpickler
    refuses (rightly: the real files have none)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def _dump_py2(obj: object, path: Path) -> None:
    with open(path, "wb") as fh:
        Py2Pickler(fh, protocol=2).dump(obj)


def write_cifar10(root: Path, seed: int = 0) -> None:
    """The cifar-10-batches-py layout with random images: 5 train batches and a test batch
    (every class in each) pickled as the official files are (:class:`Py2Pickler`: protocol
    2, str keys read back as bytes, ``data`` (n, 3072) uint8 in R, G, B planes of 32 x 32,
    ``labels`` a list)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    names = [f"batch_{i}" for i in range(1, 6)]
    for name, per_class in [(f"data_{n}", TRAIN_PER_CLASS_PER_BATCH) for n in names] + [
        ("test_batch", VAL_PER_CLASS)
    ]:
        labels = [c for c in range(10) for _ in range(per_class)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8),
            b"filenames": [f"{name}_{i}.png".encode() for i in range(len(labels))],
        }
        _dump_py2(batch, root / name)
    meta = {b"label_names": [f"c{c}".encode() for c in range(10)], b"num_vis": 3072}
    _dump_py2(meta, root / "batches.meta")


def miniature_config(work: Path) -> dict:
    """The CIFAR-10 config with the miniature overlay; AssertionError if the config gained
    a model, data set or latent space the overlay does not shrink."""
    base = yaml.safe_load(CONFIG.read_text())
    overlay = yaml.safe_load(OVERLAY.read_text())
    assert set(base["models"]) == set(overlay["models"]), f"{OVERLAY.name}: shrink every model"
    assert set(base["datasets"]) == set(overlay["datasets"])
    return _fill(merge(base, overlay), work)


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory) -> tuple[Path, dict, str]:
    work = tmp_path_factory.mktemp("cifar10_miniature")
    write_cifar10(work / "cifar-10-batches-py")
    (work / "models").mkdir()
    inception_weights(work / "models" / "weights-inception-2015-12-05-6726825d.pth")
    config = miniature_config(work)
    plan = plan_then_run(config, work, "cifar10 miniature", timeout=1500)
    return work / "results" / config["run_name"], config, plan


def test_cifar10_config_plans_without_the_data(tmp_path):
    plan = run_snakemake(CONFIG, tmp_path, "-n", timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert job_counts(plan.stdout)["train_model"] == 8  # 4 models x 2 training seeds


def test_every_cifar10_rule_runs(cifar_run, tmp_path):
    _, _, plan = cifar_run
    full = run_snakemake(CONFIG, tmp_path, "-n", timeout=300)
    assert full.returncode == 0, full.stderr[-3000:]
    # the miniature trains one seed: the full config's per-replicate rules (the loss curves of
    # <model>_seed1) are the same rules as replicate 0's
    full_rules = {re.sub(r"_seed\d+$", "", r) for r in job_counts(full.stdout + full.stderr)}
    assert set(job_counts(plan)) == full_rules


def test_shapes_of_the_cifar10_regime(cifar_run):
    r, config, _ = cifar_run
    info = json.loads((r / "data/cifar10/info.json").read_text())
    assert info["shape"] == [10 * (5 * TRAIN_PER_CLASS_PER_BATCH + VAL_PER_CLASS), 32, 32, 3]
    assert info["class_names"] == [f"c{c}" for c in range(10)]
    stats = json.loads((r / "latents/cifar10_pixel/stats.json").read_text())
    c, h, w = stats["shape"][1:]
    assert c * h * w == 3072
    for name, model in config["models"].items():
        patch = model["arch"]["patch_size"]
        assert (h // patch) * (w // patch) == 256, name
        saved = json.loads((r / f"models/{name}/model.json").read_text())
        assert saved["model"]["input_size"] == h and saved["model"]["in_channels"] == c
    sweeps = pd.read_parquet(r / "metrics/sweeps.parquet")
    assert sweeps["fid"].notna().all()
    assert (r / "claims.md").stat().st_size > 0
