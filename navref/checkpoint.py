"""Checkpoints as a safetensors file (tensors) plus a JSON file (scalars, configs).

A checkpoint with stem ``S`` is the pair ``S.safetensors`` / ``S.json``. Both are written
atomically (``navref.io``), tensors first, JSON last; both carry the same random
``token`` (in the safetensors header metadata and in the JSON), so a pair torn by a kill
between the two writes is recognised as incomplete and skipped when resuming.

Optimizer state is stored without pickle: every tensor of ``optimizer.state_dict()``
goes to safetensors under ``{prefix}state.{param_index}.{name}``; non-tensor per-parameter
state and the ``param_groups`` go to the JSON.

Weights are only ever read with :func:`safetensors.torch.load_file` (never ``torch.load``).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from navref.io import atomic_path, save_json

_STEP_RE = re.compile(r"^step_(\d{8})$")


def checkpoint_stem(path: str | os.PathLike) -> Path:
    """The stem of a checkpoint given its stem, its ``.safetensors`` or its ``.json`` path."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        return path.with_suffix("")
    return path


def save_checkpoint(
    stem: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Write ``stem.safetensors`` (tensors, moved to CPU) then ``stem.json`` (meta + token).

    Returns the safetensors path.
    """
    stem = checkpoint_stem(stem)
    token = uuid.uuid4().hex
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    st_path = stem.with_name(stem.name + ".safetensors")
    with atomic_path(st_path, suffix=".safetensors") as tmp:
        save_file(cpu, str(tmp), metadata={"token": token})
    save_json(stem.with_name(stem.name + ".json"), {**meta, "token": token})
    return st_path


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON part of a checkpoint (or of a final model file)."""
    stem = checkpoint_stem(path)
    json_path = stem.with_name(stem.name + ".json")
    if not json_path.is_file():
        raise FileNotFoundError(f"checkpoint metadata {json_path} not found")
    return json.loads(json_path.read_text())


def is_complete(path: str | os.PathLike) -> bool:
    """Whether both files of a checkpoint exist and carry the same token."""
    stem = checkpoint_stem(path)
    st_path = stem.with_name(stem.name + ".safetensors")
    json_path = stem.with_name(stem.name + ".json")
    if not (st_path.is_file() and json_path.is_file()):
        return False
    try:
        with safe_open(str(st_path), framework="pt") as f:
            token = (f.metadata() or {}).get("token")
        return token is not None and token == json.loads(json_path.read_text()).get("token")
    except Exception:  # a torn or unreadable file (safetensors raises its own error type)
        return False


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint pair; raises ``ValueError`` when the pair is torn."""
    stem = checkpoint_stem(path)
    st_path = stem.with_name(stem.name + ".safetensors")
    if not st_path.is_file():
        raise FileNotFoundError(f"checkpoint weights {st_path} not found")
    meta = read_meta(stem)
    if not is_complete(stem):
        raise ValueError(
            f"checkpoint {stem} is incomplete: {st_path.name} and its JSON carry different "
            "tokens (a run was killed while saving); use an earlier checkpoint"
        )
    return load_file(str(st_path), device=str(device)), meta


def find_resume_checkpoint(ckpt_dir: str | os.PathLike) -> Path | None:
    """The complete checkpoint (stem) with the largest ``step`` in ``ckpt_dir``, or None."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    best: tuple[int, Path] | None = None
    for json_path in sorted(ckpt_dir.glob("*.json")):
        stem = json_path.with_suffix("")
        if not (stem.name == "last" or _STEP_RE.match(stem.name)):
            continue
        if not is_complete(stem):
            continue
        step = int(json.loads(json_path.read_text()).get("step", -1))
        if best is None or step > best[0]:
            best = (step, stem)
    return None if best is None else best[1]


def list_step_checkpoints(ckpt_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """All complete ``step_XXXXXXXX`` checkpoints in a directory, as (step, stem), by step."""
    ckpt_dir = Path(ckpt_dir)
    out = []
    for json_path in sorted(ckpt_dir.glob("step_*.json")):
        m = _STEP_RE.match(json_path.stem)
        if m and is_complete(json_path.with_suffix("")):
            out.append((int(m.group(1)), json_path.with_suffix("")))
    return out


def optimizer_to_tensors(
    state_dict: dict[str, Any], prefix: str = "optim."
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into safetensors-able tensors and JSON-able meta."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in state_dict["state"].items():
        for name, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}state.{idx}.{name}"] = value
            else:
                scalars.setdefault(str(idx), {})[name] = value
    groups = []
    for g in state_dict["param_groups"]:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
    return tensors, {"param_groups": groups, "state_scalars": scalars}


def optimizer_from_tensors(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any], prefix: str = "optim."
) -> dict[str, Any]:
    """Inverse of :func:`optimizer_to_tensors`: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith(prefix + "state."):
            continue
        idx, name = key[len(prefix) + len("state.") :].split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    for idx, extra in meta.get("state_scalars", {}).items():
        state.setdefault(int(idx), {}).update(extra)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


def prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``{prefix + key: tensor}``."""
    return {prefix + k: v for k, v in state.items()}


def unprefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``tensors`` whose key starts with ``prefix``, with it removed."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def checkpoint_path(model_dir: str | os.PathLike, ckpt: str) -> Path:
    """The weights of checkpoint ``ckpt`` of a trained model: ``"ema"`` -> the final EMA
    model; ``"step<N>"`` -> the EMA weights saved at step N. Raises ``ValueError`` for
    another name and ``FileNotFoundError`` when that step was not saved."""
    model_dir = Path(model_dir)
    if ckpt == "ema":
        return model_dir / "model.safetensors"
    m = re.fullmatch(r"step(\d+)", ckpt)
    if not m:
        raise ValueError(f"checkpoint {ckpt!r}: use 'ema' or 'step<N>'")
    path = model_dir / "checkpoints" / f"step_{int(m.group(1)):08d}.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} missing; retrain the model (its job)")
    return path
