"""Issue 13, case 7: a training image stored twice is one image for the NN1/NN2 ratio."""

from __future__ import annotations

import numpy as np
import pytest

from navref.metrics.memorization import (
    distinct_rows,
    duplicate_groups,
    memorization_metrics,
    memorization_table,
    nearest_neighbours,
)


def _brute_ratio(query: np.ndarray, distinct_train: np.ndarray) -> float:
    """NN1/NN2 over distinct training rows, by a plain loop."""
    dists = sorted(float(np.sqrt(((query - row) ** 2).sum())) for row in distinct_train)
    return dists[0] / dists[1]


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 4, 4, 3)) * 10
    near_a = a + 0.05 * rng.normal(size=a.shape)
    near_b = b + 0.05 * rng.normal(size=b.shape)
    return a, b, c, np.stack([near_a, near_b])


def test_near_copy_of_a_duplicated_image_is_memorized(images):
    a, b, c, queries = images
    stored_twice = np.stack([a, b, a, c])  # image a is in the training split twice
    table = memorization_table(queries, stored_twice)
    expected = [_brute_ratio(q, np.stack([a, b, c])) for q in queries]
    np.testing.assert_allclose(table["ratio"], expected, rtol=1e-9)
    assert table["memorized"].tolist() == [True, True]  # as for the unique image b
    assert table["nn1_index"].tolist() == [0, 1]
    assert 2 not in table["nn2_index"].tolist()  # the copy of a is never the "second" image


def test_duplicates_are_found_and_reported(images):
    a, b, c, queries = images
    train = np.stack([a, a, b, a, c, b])
    np.testing.assert_array_equal(duplicate_groups(train, chunk_size=4), [0, 0, 2, 0, 4, 2])
    metrics = memorization_metrics(queries, train, chunk_size=4)
    assert metrics["train_duplicates"] == 3
    assert metrics["memorization_share"] == 1.0


def test_k_beyond_the_distinct_images_is_refused(images):
    a, b, _, queries = images
    train = np.stack([a, a, b])
    with pytest.raises(ValueError, match="distinct training rows 2"):
        nearest_neighbours(queries, train, k=3, groups=duplicate_groups(train))


def test_distinct_rows_with_inverse_and_counts(images):
    """The first row of each item, the item of each row and the multiplicities (a copy under
    another label is an item of its own with labels)."""
    a, b, c, _ = images
    train = np.stack([a, a, b, a, c, b])
    assert distinct_rows(train).tolist() == [0, 2, 4]
    first, inverse, counts = distinct_rows(train, return_inverse=True, return_counts=True)
    assert first.tolist() == [0, 2, 4] and counts.tolist() == [3, 2, 1]
    assert inverse.tolist() == [0, 0, 1, 0, 2, 1]
    assert np.array_equal(train[first[inverse]], train)
    labels = np.array([1, 0, 0, 1, 0, 0])  # row 1 is a under label 0: another item
    first, inverse = distinct_rows(train, labels, return_inverse=True)
    assert first.tolist() == [0, 1, 2, 4]
    assert inverse.tolist() == [0, 1, 2, 0, 3, 2]
    _, counts = distinct_rows(train, labels, return_counts=True)
    assert counts.tolist() == [2, 1, 2, 1]
