"""Atomic file output: every artefact is written to a temporary name and renamed.

A killed job therefore never leaves a half-written file under its final name, which
is what Snakemake (and a resuming training run) rely on.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def umask_mode() -> int:
    """The mode a new file gets under the current umask (0o644 for umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def give_umask_mode(path: str | os.PathLike) -> None:
    """Set ``path`` (a file, or every file under a directory) to :func:`umask_mode`."""
    path = Path(path)
    mode = umask_mode()
    for file in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
        os.chmod(file, mode)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps ``path``'s suffix (or ``suffix``) so that libraries which
    dispatch on the extension (numpy, pyarrow, PIL, safetensors) behave as usual. On an
    exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix if suffix is not None else "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600, and some writers (safetensors) recreate the file: set the
        # mode the user's umask gives only now, once the content is final
        give_umask_mode(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save ``array`` as a ``.npy`` file atomically (memory-mappable with ``np.load(mmap_mode='r')``)."""
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, np.ascontiguousarray(array), allow_pickle=False)


def save_parquet(path: str | os.PathLike, frame: Any) -> None:
    """Save a pandas DataFrame as Parquet (pyarrow) atomically."""
    with atomic_path(path, suffix=".parquet") as tmp:
        frame.to_parquet(tmp, index=False, engine="pyarrow")


def save_json(path: str | os.PathLike, obj: Any) -> None:
    """Save ``obj`` as pretty JSON atomically."""
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def load_json(path: str | os.PathLike, rule: str | None = None) -> Any:
    """Load a JSON file. With ``rule`` (the rule that writes it), a missing or damaged file
    raises :class:`ArtefactError` naming the file and that rule."""
    if rule is None:
        return json.loads(Path(path).read_text())
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise artefact_error(path, rule, "does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise artefact_error(path, rule, f"is not complete JSON ({err})") from None


class NonFiniteError(ValueError):
    """An array produced for later rules holds NaN or infinity."""


def file_signature(path: str | os.PathLike) -> dict[str, int] | None:
    """``{"size": bytes, "mtime_ns": ns}`` of a local input the workflow does not track as
    a file (a released checkpoint, an LDM VAE: they need not exist for a dry run), or None
    when it is absent. Rules pass it as a param, so replacing the file reruns its jobs."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def input_stamp(path: str | os.PathLike) -> dict[str, Any] | None:
    """A stamp of a local input outside ``results/`` (an ``x-path: input`` config key: a
    data root, a diffusers VAE folder, a statistics file, a released checkpoint, Inception
    weights), or None when it is absent (a dry run on another machine).

    A file: ``{"size", "mtime_ns"}`` (:func:`file_signature`). A folder: ``{"files",
    "bytes", "sha1"}``, the SHA-1 of every file's relative path, size and mtime_ns below
    it (symlinks followed). Rules pass the stamps as a param, so replacing an input's
    content reruns exactly the jobs that read it (Snakemake's params trigger). Size and
    mtime, not a content hash: reading ImageNet's 140 GB or a 3 GB checkpoint on every
    parse is what this avoids; a copy that keeps size and mtime (``cp -p``) of other
    content is the one change it misses, a ``touch`` without a change reruns.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
    digest = hashlib.sha1(usedforsecurity=False)
    files = size = 0
    todo = [""]
    while todo:
        rel = todo.pop()
        with os.scandir(os.path.join(path, rel)) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            name = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir():
                todo.append(name)
                continue
            est = entry.stat()
            files, size = files + 1, size + est.st_size
            digest.update(f"{name}\0{est.st_size}\0{est.st_mtime_ns}\n".encode())
    return {"files": files, "bytes": size, "sha1": digest.hexdigest()}


def remembered_input_stamp(
    path: str | os.PathLike, memory: str | os.PathLike, log: Any = None
) -> dict[str, Any] | None:
    """:func:`input_stamp` of ``path``, remembered in the JSON file ``memory`` ({path: stamp},
    written atomically when a stamp is new or changed); for an absent input the remembered
    stamp (None if never seen). So a finished run whose external input is later moved,
    unmounted or purged (scratch space, a laptop without ``/data``) plans nothing for the
    jobs that read it, instead of rerunning them on a missing file; ``log`` (a callable) is
    told so. Replacing the input's content still reruns its readers."""
    memory = Path(memory)
    try:
        known = json.loads(memory.read_text())
    except (OSError, ValueError):
        known = {}
    key = os.fspath(path)
    stamp = input_stamp(path)
    if stamp is None:
        if key in known and log is not None:
            log(f"navref: input {key} is absent; the outputs made from it are kept (its last "
                f"stamp, {memory}); restore it to rerun its readers")  # fmt: skip
        return known.get(key)
    if known.get(key) != stamp:
        known[key] = stamp
        memory.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(memory, suffix=".json") as tmp:
            Path(tmp).write_text(
                json.dumps(known, indent=1)
            )  # key order kept: params compare reprs
    return stamp


def check_finite(
    array: Any,
    what: str,
    fix: str,
    first_row: int = 0,
    row_names: Sequence[str] | None = None,
) -> None:
    """Raise :class:`NonFiniteError` if ``array`` (numpy or torch, rows on axis 0) has NaN/inf.

    The message names ``what`` the array is, the first bad row as ``first_row + i`` (its
    index in the whole output when ``array`` is one batch of it), ``row_names[i]`` when
    given (e.g. the source file), how many rows are bad, and ``fix``.
    """
    values = array.detach().cpu().numpy() if hasattr(array, "detach") else np.asarray(array)
    finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1) if values.ndim else None
    if finite is None:
        if np.isfinite(values):
            return
        raise NonFiniteError(f"{what} is {values.item()}; {fix}")
    if finite.all():
        return
    bad = np.flatnonzero(~finite)
    name = f" ({row_names[bad[0]]})" if row_names is not None else ""
    raise NonFiniteError(
        f"{what}: item {first_row + int(bad[0])}{name} holds NaN or infinity "
        f"({len(bad)} bad item(s) in rows {first_row}..{first_row + len(values) - 1}); {fix}"
    )


class ArtefactError(ValueError):
    """A file written by an earlier rule is damaged (cut short, wrong shape, NaN)."""


def artefact_error(path: str | os.PathLike, rule: str, problem: str) -> ArtefactError:
    """The error for a bad artefact: names the file, the problem and the rule to rerun."""
    return ArtefactError(
        f"{path}: {problem}. It was written by rule {rule} (perhaps cut short by a full disk "
        f"or a killed copy): delete it and rerun that rule (snakemake --forcerun {rule})"
    )


def load_array(
    path: str | os.PathLike,
    rule: str,
    mmap: bool = True,
    shape: Sequence[int] | None = None,
    finite: bool = False,
) -> np.ndarray:
    """Load the ``.npy`` that ``rule`` wrote (memory-mapped by default), checked.

    Checks that the file holds as many bytes as its header says, its ``shape`` when given
    and, with ``finite``, that it holds no NaN/inf (streamed in chunks). Raises
    :class:`ArtefactError` naming the file and ``rule``.
    """
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise artefact_error(path, rule, "does not exist") from None
    except (ValueError, OSError, EOFError) as err:
        raise artefact_error(path, rule, f"is not a complete .npy file ({err})") from None
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise artefact_error(path, rule, f"has shape {arr.shape}, expected {tuple(shape)}")
    for s in range(0, len(arr) if finite and arr.ndim else 0, 4096):
        block = np.asarray(arr[s : s + 4096], dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(block.reshape(len(block), -1)).all(axis=1))
        if len(bad):
            raise artefact_error(path, rule, f"row {s + int(bad[0])} holds NaN or infinity")
    return arr


def load_npz(
    path: str | os.PathLike, rule: str, finite: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Load every array of the ``.npz`` that ``rule`` wrote, checked.

    A file cut short, or a NaN/inf in one of the ``finite`` arrays, raises
    :class:`ArtefactError` naming the file and ``rule``.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise artefact_error(path, rule, "does not exist") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise artefact_error(path, rule, f"is not a complete .npz file ({err})") from None
    for key in finite:
        if key not in arrays:
            raise artefact_error(path, rule, f"holds no array {key!r} (has {sorted(arrays)})")
        values = np.asarray(arrays[key], dtype=np.float64)
        if not np.isfinite(values).all():
            raise artefact_error(path, rule, f"array {key!r} holds NaN or infinity")
    return arrays
