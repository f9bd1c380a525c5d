"""Content fingerprints: what a stored state (a training checkpoint, a sampling state store)
was made from, so that it is reused only on the very same inputs.

A fingerprint is 32 hex digits of BLAKE2b (digest size 16) over the bytes, streamed in
blocks of :data:`BLOCK` bytes, so a memory-mapped array or a large file is never copied
whole into RAM. An array's fingerprint covers its dtype and shape too; a file's only its
bytes (not its name, size or time). Cost: about 1 GB/s on one CPU core.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: bytes hashed per block (a memory-mapped array is read block by block)
BLOCK = 1 << 22


def _new() -> Any:
    return hashlib.blake2b(digest_size=16)


def array_fingerprint(array: Any) -> str:
    """The fingerprint of an array's dtype, shape and values (C order); numpy arrays,
    memory maps and CPU or GPU torch tensors (copied to the CPU block by block)."""
    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach()
        if array.dtype.is_floating_point and array.dtype.itemsize == 2:
            array = array.float()  # numpy has no bfloat16
        array = array.cpu().numpy()
    array = np.asarray(array)
    h = _new()
    h.update(f"{array.dtype.str}{tuple(array.shape)}".encode())
    flat = array.reshape(-1) if array.flags.c_contiguous else None
    if flat is None:  # a strided view: hash it row by row in C order
        for row in array.reshape(array.shape[0], -1) if array.ndim else [array]:
            h.update(np.ascontiguousarray(row).tobytes())
        return h.hexdigest()
    step = max(1, BLOCK // max(1, array.itemsize))
    for start in range(0, flat.size, step):
        h.update(memoryview(np.ascontiguousarray(flat[start : start + step])).cast("B"))
    return h.hexdigest()


def module_fingerprint(model: Any) -> str:
    """The fingerprint of a network's weights: every entry of its ``state_dict()`` (name,
    dtype, shape, values), in name order. A callable without ``state_dict`` is named by its
    type only (it cannot be checked)."""
    state = getattr(model, "state_dict", None)
    if state is None:
        return _new_with(f"callable:{type(model).__qualname__}".encode())
    h = _new()
    for name, value in sorted(state().items()):
        h.update(name.encode())
        h.update(array_fingerprint(value).encode())
    return h.hexdigest()


def file_fingerprint(path: str | os.PathLike) -> str:
    """The fingerprint of a file's bytes. Raises ``FileNotFoundError`` when it is absent."""
    h = _new()
    with open(Path(path), "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()


def json_fingerprint(obj: Any) -> str:
    """The fingerprint of a JSON-able object (sorted keys: key order does not count)."""
    return _new_with(json.dumps(obj, sort_keys=True, default=str).encode())


def _new_with(data: bytes) -> str:
    h = _new()
    h.update(data)
    return h.hexdigest()


def record_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """The keys in which two input records differ (sorted); ``["(no record)"]`` when
    ``old`` is None (a state written before records existed cannot be checked)."""
    if old is None:
        return ["(no record)"]
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


__all__ = [
    "BLOCK",
    "array_fingerprint",
    "file_fingerprint",
    "json_fingerprint",
    "module_fingerprint",
    "record_diff",
]
