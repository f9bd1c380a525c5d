"""Tests for the FID feature net and the offline torch-fidelity integration."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
import torch_fidelity
from sklearn.datasets import load_digits
from torch_fidelity.utils import create_feature_extractor

from navref.metrics import fidelity as fm
from navref.metrics.feature_net import (
    FEATURE_NET_EXTRACTOR,
    FeatureNetExtractor,
    images_to_tensor,
    load_feature_net,
    register,
    save_feature_net,
    train_feature_net,
)

N_HALF = 300


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny convolutions gain nothing from intra-op threads, and on a loaded 2-core machine
    two spinning OpenMP threads slow training ~15x; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn digits (ships with sklearn) as uint8 (N, 16, 16, 1), shuffled."""
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    perm = np.random.default_rng(0).permutation(len(images))
    return images[perm], d.target[perm]


@pytest.fixture(scope="module")
def net(digits, tmp_path_factory):
    """A quickly trained feature net saved to disk: (weights path, train metrics)."""
    images, labels = digits
    model, metrics = train_feature_net(
        images[:1400],
        labels[:1400],
        10,
        val_images=images[1400:],
        val_labels=labels[1400:],
        steps=120,
        batch_size=64,
        lr=3e-3,
        seed=0,
        widths=(16, 32, 64),
        feature_dim=64,
        progress=False,
    )
    path = tmp_path_factory.mktemp("featnet") / "net.safetensors"
    save_feature_net(model, path, metrics)
    return path, metrics


@pytest.fixture(scope="module")
def reference(digits, net, tmp_path_factory):
    """Reference statistics of the second half of 2 * N_HALF digits, saved to disk."""
    images, _ = digits
    path = tmp_path_factory.mktemp("ref") / "ref.safetensors"
    ref = fm.reference_statistics(
        images[N_HALF : 2 * N_HALF], FEATURE_NET_EXTRACTOR, net[0], out_path=path, device="cpu"
    )
    return path, ref


def _metrics(samples, reference, net, **kw):
    kw.setdefault("kid_subset_size", 100)
    kw.setdefault("kid_subsets", 20)
    return fm.compute_metrics(
        samples, reference[0], FEATURE_NET_EXTRACTOR, net[0], device="cpu", **kw
    )


def test_feature_net_learns_digits(net):
    assert net[1]["val_accuracy"] > 0.85, net[1]


def test_save_load_roundtrip(digits, net):
    path, _ = net
    assert path.with_suffix(".json").is_file()
    model = load_feature_net(path)
    again = load_feature_net(path)
    x = images_to_tensor(digits[0][:8])
    with torch.no_grad():
        f1, l1 = model(x)
        f2, l2 = again(x)
    assert torch.equal(f1, f2) and torch.equal(l1, l2)
    assert f1.shape == (8, 64) and l1.shape == (8, 10)


def test_extractor_contract(digits, net):
    register()
    register()  # idempotent
    with pytest.raises(ValueError, match="already taken"):
        register(fm.INCEPTION)
    model = load_feature_net(net[0])
    imgs = digits[0][:5]
    for layers in (["features", "logits"], ["logits", "features"]):
        ext = create_feature_extractor(
            FEATURE_NET_EXTRACTOR, layers, cuda=False, feature_extractor_weights_path=str(net[0])
        )
        batch = torch.stack([fm.UInt8ImageDataset(imgs)[i] for i in range(5)])
        assert batch.dtype == torch.uint8 and batch.shape == (5, 3, 16, 16)
        out = ext(batch)
        assert isinstance(out, tuple) and len(out) == 2
        feats = ext.convert_features_tuple_to_dict(out)
        assert feats["features"].shape == (5, 64) and feats["logits"].shape == (5, 10)
        assert all(v.dtype == torch.float32 for v in out)
        # replicated grayscale through the wrapper == the net on the 1-channel image
        with torch.no_grad():
            want_f, want_l = model(images_to_tensor(imgs))
        torch.testing.assert_close(feats["features"], want_f)
        torch.testing.assert_close(feats["logits"], want_l)
        # another resolution is resized to the net's
        assert ext(F.interpolate(batch.float(), size=32).to(torch.uint8))[0].shape[0] == 5
    with pytest.raises(ValueError, match="uint8"):
        ext(batch.float())
    with pytest.raises(ValueError, match="weights_path"):
        FeatureNetExtractor(FEATURE_NET_EXTRACTOR, ["features"])


def test_reference_file_roundtrip(reference):
    path, ref = reference
    loaded = fm.load_reference_statistics(path)
    assert loaded["feature_extractor"] == FEATURE_NET_EXTRACTOR
    assert loaded["num_images"] == N_HALF
    np.testing.assert_array_equal(loaded["features"]["features"], ref["features"]["features"])
    np.testing.assert_array_equal(loaded["mu"], ref["mu"])
    np.testing.assert_array_equal(loaded["sigma"], ref["sigma"])
    assert loaded["features"]["features"].shape == (N_HALF, 64)


def test_metrics_match_independent_float64(digits, net, reference):
    """FID, whole-set KID, precision/recall against a brute-force float64 re-derivation."""
    samples = digits[0][:N_HALF]
    got = _metrics(samples, reference, net, kid_subset_size=N_HALF, kid_subsets=1)
    a = fm.extract_features(samples, FEATURE_NET_EXTRACTOR, net[0], device="cpu")["features"]
    a = a.double().numpy()
    b = reference[1]["features"]["features"].astype(np.float64)
    d = a.shape[1]
    # FID
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    fid = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert got["fid"] == pytest.approx(fid, rel=1e-3, abs=1e-3)
    # KID on the whole set (a subset of size N is a permutation): unbiased MMD^2, cubic kernel
    kxx, kyy, kxy = ((x @ y.T / d + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    m = len(a)
    mmd = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    mmd -= 2 * kxy.mean()
    assert got["kid_mean"] == pytest.approx(mmd, rel=1e-3, abs=1e-3)
    # precision / recall with k = 3 nearest-neighbour radii
    dist = scipy.spatial.distance.cdist
    r_a = np.sort(dist(a, a), axis=1)[:, 3]
    r_b = np.sort(dist(b, b), axis=1)[:, 3]
    precision = (dist(a, b) <= r_b[None, :]).any(1).mean()
    recall = (dist(b, a) <= r_a[None, :]).any(1).mean()
    assert got["precision"] == pytest.approx(precision, abs=2 / N_HALF)
    assert got["recall"] == pytest.approx(recall, abs=2 / N_HALF)


def test_fid_self_zero_and_shift_worse(digits, net, reference):
    images, labels = digits
    real = images[N_HALF : 2 * N_HALF]
    same = _metrics(real, reference, net)
    assert abs(same["fid"]) < 1e-3
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    other_half = _metrics(images[:N_HALF], reference, net)
    noise = np.random.default_rng(1).integers(0, 80, real.shape)
    noisy = _metrics(np.clip(real + noise, 0, 255).astype(np.uint8), reference, net)
    first = images[:N_HALF][labels[:N_HALF] < 5]
    subset = _metrics(first, reference, net)
    assert noisy["fid"] > 5 * other_half["fid"] > 0
    assert subset["fid"] > 3 * other_half["fid"]
    assert noisy["kid_mean"] > other_half["kid_mean"]
    assert subset["recall"] < other_half["recall"]


def test_reference_route_equals_calculate_metrics(digits, net, reference):
    images = digits[0]
    samples = images[:N_HALF][::2]  # 150 vs 300 images
    kw = dict(kid_subset_size=100, kid_subsets=20, prc_neighborhood=3, seed=7, device="cpu")
    ours = fm.compute_metrics(samples, reference[0], FEATURE_NET_EXTRACTOR, net[0], **kw)
    direct = fm.calculate_metrics_direct(
        samples, images[N_HALF : 2 * N_HALF], FEATURE_NET_EXTRACTOR, net[0], **kw
    )
    for key in ("fid", "kid_mean", "kid_std", "precision", "recall", "f_score"):
        assert ours[key] == pytest.approx(direct[key], rel=1e-5, abs=1e-6), key
    assert ours["fid"] > 0.1


def test_kid_subset_size_clamped(digits, net, reference):
    with pytest.warns(UserWarning, match="kid_subset_size"):
        out = _metrics(digits[0][:50], reference, net, kid_subset_size=10_000)
    assert out["kid_subset_size"] == 50 and np.isfinite(out["kid_mean"])


def _no_work(*args, **kwargs):
    raise AssertionError("feature extraction started before the inputs were checked")


def test_missing_weights_fail_before_work(digits, net, reference, tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "_extract", _no_work)
    images = digits[0][:20]
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        fm.compute_metrics(images, reference[0], FEATURE_NET_EXTRACTOR, missing)
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        fm.reference_statistics(images, FEATURE_NET_EXTRACTOR, missing)
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        fm.calculate_metrics_direct(images, images, FEATURE_NET_EXTRACTOR, missing)
    with pytest.raises(ValueError, match="weights"):
        fm.compute_metrics(images, reference[0], FEATURE_NET_EXTRACTOR, None)
    with pytest.raises(FileNotFoundError, match="reference statistics"):
        fm.compute_metrics(images, tmp_path / "ref.safetensors", FEATURE_NET_EXTRACTOR, net[0])
    with pytest.raises(ValueError, match="uint8"):
        fm.compute_metrics(images.astype(np.float32), reference[0], FEATURE_NET_EXTRACTOR, net[0])
    with pytest.raises(ValueError, match="not supported"):
        fm.compute_metrics(images, reference[0], "clip-vit-b-32", net[0])


class _Evil:
    pass


def test_inception_never_downloads(digits, reference, tmp_path, monkeypatch):
    import torch.hub
    import torch_fidelity.feature_extractor_inceptionv3 as inc

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(inc, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(fm, "_extract", _no_work)
    images = digits[0][:20]
    with pytest.raises(ValueError, match="weights"):
        fm.reference_statistics(images, fm.INCEPTION, None)
    with pytest.raises(ValueError, match="weights"):
        fm.calculate_metrics_direct(images, images, fm.INCEPTION, None)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        fm.compute_metrics(images, reference[0], fm.INCEPTION, tmp_path / "missing.pth")
    # a file that is not a plain state dict is refused, never unpickled
    evil = tmp_path / "evil.pth"
    torch.save({"x": _Evil()}, evil)
    with pytest.raises(ValueError, match="weights_only"):
        fm.check_feature_extractor(fm.INCEPTION, evil)
    # a plain state dict passes the check; the reference made with another net is refused
    plain = tmp_path / "plain.pth"
    torch.save({"w": torch.zeros(2)}, plain)
    assert fm.check_feature_extractor(fm.INCEPTION, plain) == plain
    with pytest.raises(ValueError, match="recompute the reference"):
        fm.compute_metrics(images, reference[0], fm.INCEPTION, plain)
    # torch-fidelity's own entry point also refuses our extractor without a path
    register()
    with pytest.raises(ValueError, match="weights_path"):
        torch_fidelity.calculate_metrics(
            input1=fm.UInt8ImageDataset(images),
            input2=fm.UInt8ImageDataset(images),
            fid=True,
            feature_extractor=FEATURE_NET_EXTRACTOR,
            cuda=False,
            cache=False,
            verbose=False,
        )


@pytest.mark.parametrize(("n1", "n2", "d", "batch"), [(50, 80, 16, 10000), (37, 120, 8, 16)])
def test_stored_radii_equal_torch_fidelity_bitwise(n1, n2, d, batch):
    from torch_fidelity.metric_prc import prc_features_to_metric

    from navref.metrics.prc import knn_radii, precision_recall

    g = torch.Generator().manual_seed(n1)
    a = torch.randn(n1, d, generator=g)
    b = torch.randn(n2, d, generator=g) * 1.2 + 0.3
    kw = dict(prc_neighborhood=3, prc_batch_size=batch, save_cpu_ram=True, verbose=False)
    expected = prc_features_to_metric(a, b, **kw)
    got = precision_recall(a, b, knn_radii(b, 3, batch), 3, batch)
    assert got == expected
    # the radii are the 3rd nearest other point (brute force, float64)
    r = np.sort(scipy.spatial.distance.cdist(b.double(), b.double()), axis=1)[:, 3]
    np.testing.assert_allclose(knn_radii(b, 3, batch).numpy(), r, rtol=1e-5)
    with pytest.raises(ValueError, match="reference radii"):
        precision_recall(a, b, knn_radii(b, 3)[:-1], 3)


def test_reference_rows_fixed_size_seeded_draw():
    assert (fm.reference_rows(10, None, 0) == np.arange(10)).all()
    assert (fm.reference_rows(10, 50, 0) == np.arange(10)).all()
    rows = fm.reference_rows(1000, 100, 3)
    assert len(rows) == len(np.unique(rows)) == 100 and (np.diff(rows) > 0).all()
    assert (rows == fm.reference_rows(1000, 100, 3)).all()
    assert not (rows == fm.reference_rows(1000, 100, 4)).all()


def test_reference_subset_equals_explicit_subset(digits, net, tmp_path):
    images = digits[0][:200]
    kw = dict(batch_size=64, device="cpu")
    sub = fm.reference_statistics(
        images, FEATURE_NET_EXTRACTOR, net[0], reference_size=60, seed=5,
        out_path=tmp_path / "ref.safetensors", **kw,
    )  # fmt: skip
    rows = fm.reference_rows(200, 60, 5)
    explicit = fm.reference_statistics(images[rows], FEATURE_NET_EXTRACTOR, net[0], **kw)
    assert sub["num_images"] == 60
    for key in ("mu", "sigma", "prc_radii"):
        np.testing.assert_array_equal(sub[key], explicit[key])
    loaded = fm.load_reference_statistics(tmp_path / "ref.safetensors")
    np.testing.assert_array_equal(loaded["prc_radii"], sub["prc_radii"])
    assert loaded["prc_neighborhood"] == 3


def test_reference_with_nan_is_refused_on_load(reference, tmp_path):
    from navref.io import NonFiniteError

    ref = dict(fm.load_reference_statistics(reference[0]))
    ref["sigma"] = ref["sigma"].copy()
    ref["sigma"][2, 3] = np.nan
    bad = tmp_path / "bad.safetensors"
    fm.save_reference_statistics(bad, ref)
    with pytest.raises(NonFiniteError, match="reference_stats"):
        fm.load_reference_statistics(bad)


def test_features_extracted_without_tf32(digits, net, monkeypatch):
    import torch_fidelity.utils as tfu

    seen = []
    real = tfu.get_featuresdict_from_dataset

    def spy(*args, **kwargs):
        seen.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32))
        return real(*args, **kwargs)

    monkeypatch.setattr(tfu, "get_featuresdict_from_dataset", spy)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    fm.extract_features(digits[0][:8], FEATURE_NET_EXTRACTOR, net[0], device="cpu")
    assert seen == [(False, False)]
    assert torch.backends.cudnn.allow_tf32  # restored


def test_damaged_reference_file_names_the_rule(reference, tmp_path):
    from navref.io import ArtefactError, NonFiniteError

    src = reference[0]
    whole = open(src, "rb").read()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ArtefactError, match="reference_stats"):
        fm.load_reference_statistics(cut)
    ref = dict(fm.load_reference_statistics(src))
    ref["prc_radii"] = ref["prc_radii"].copy()
    ref["prc_radii"][0] = np.nan
    bad = tmp_path / "nan_radii.safetensors"
    fm.save_reference_statistics(bad, ref)
    with pytest.raises(NonFiniteError, match="radii"):
        fm.load_reference_statistics(bad)


@pytest.fixture
def fake_gpus(monkeypatch):
    """``torch.cuda.device`` faked on the CPU: ``current`` holds the index made current
    (None outside), as torch-fidelity's ``.cuda()`` calls would see it."""
    current: list[int | None] = [None]

    @contextlib.contextmanager
    def device(index):
        before, current[0] = current[0], index
        try:
            yield
        finally:
            current[0] = before

    monkeypatch.setattr(torch.cuda, "device", device)
    before = _tf32()  # cuBLAS flags go through __setattr__: set and restored by hand
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    yield current
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def _tf32() -> tuple[bool, bool]:
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


@pytest.mark.parametrize(("device", "cuda", "index"), [("cuda:1", True, 1), ("cuda", True, None), ("cpu", False, None)])  # fmt: skip
def test_torch_fidelity_runs_on_the_given_gpu_without_tf32(
    digits, net, fake_gpus, monkeypatch, device, cuda, index
):
    """torch-fidelity has no device argument (cuda=True means the current GPU): cuda:N is
    made current while its network is built and run, TF32 off; both restored after."""
    import torch_fidelity.utils as tfu

    seen = []

    def create(name, layers, cuda, **kwargs):
        seen.append(("create", cuda, fake_gpus[0], _tf32()))
        return None

    def features(dataset, extractor, batch_size, cuda, *args, **kwargs):
        seen.append(("features", cuda, fake_gpus[0], _tf32()))
        return {layer: torch.zeros(len(dataset), 4) for layer in ("2048", "logits_unbiased")}

    monkeypatch.setattr(tfu, "create_feature_extractor", create)
    monkeypatch.setattr(tfu, "get_featuresdict_from_dataset", features)
    fm.extract_features(digits[0][:8], FEATURE_NET_EXTRACTOR, net[0], device=device)
    assert seen == [("create", cuda, index, (False, False)), ("features", cuda, index, (False, False))]  # fmt: skip

    def calculate_metrics(**kwargs):
        seen.append(("direct", kwargs["cuda"], fake_gpus[0], _tf32()))
        return {torch_fidelity.KEY_METRIC_FID: 1.0}

    monkeypatch.setattr(torch_fidelity, "calculate_metrics", calculate_metrics)
    images = digits[0][:8]
    out = fm.calculate_metrics_direct(
        images, images, FEATURE_NET_EXTRACTOR, net[0], kid_subset_size=4, device=device
    )
    assert out["fid"] == 1.0 and seen[-1] == ("direct", cuda, index, (False, False))
    assert fake_gpus[0] is None and _tf32() == (True, True)  # restored
