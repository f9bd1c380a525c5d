"""Training seeds as replicates of a model entry (issue 24, item 1).

A trained model entry may list several training seeds, ``models.<m>.train.seeds: [0, 1, 2]``
(instead of one ``train.seed``). The config is expanded once, at the workflow's parse
(:func:`expand_models`, torch-free), into *replicate models*, each an ordinary model entry
with one ``train.seed`` and one ``train_model`` job:

- replicate 0 keeps the entry's own name ``<m>`` (and so its paths, jobs and files: a
  config without ``seeds`` plans exactly what it planned before);
- replicate r >= 1 is the model ``<m>_seed<k>`` (:func:`replicate_name`), k = ``seeds[r]``.

Where claims compare models, the work downstream of a model runs per replicate: the
loss-curve probe of every replicate model (its table records ``base_model`` and
``train_replicate``), and each sweep setting once per training replicate r with replicate r
of each of its models (:meth:`navref.sweeps.plan.Sweep.runs`). Released models
(``pretrained``) are not trained and have no seeds.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Replicate",
    "expand_models",
    "model_replicates",
    "replicate_name",
    "replicates_of",
    "seeds_problems",
]


def replicate_name(base: str, seed: int) -> str:
    """The model name of the replicate of entry ``base`` trained with seed ``seed`` (r >= 1)."""
    return f"{base}_seed{int(seed)}"


@dataclass(frozen=True)
class Replicate:
    """One replicate model: the config entry it comes from (``base``), its index ``index``
    among the entry's training seeds (0: the entry's own name) and its training ``seed``
    (None where the entry sets none: a released model, or the training default)."""

    base: str
    index: int
    seed: int | None


def _seeds(entry: Mapping[str, Any]) -> list[int] | None:
    """The training seeds an entry lists (``train.seeds``), None without the key."""
    seeds = (entry.get("train") or {}).get("seeds")
    return None if seeds is None else [int(s) for s in seeds]


def seeds_problems(models: Mapping[str, Mapping[str, Any]] | None) -> list[str]:
    """One line per problem with ``train.seeds`` (naming the key and the fix); [] if none:
    ``train.seed`` given and not ``seeds[0]``, a repeated seed, or a replicate name
    ``<m>_seed<k>`` that is already a model of the config."""
    models = models or {}
    problems = []
    for name, entry in models.items():
        seeds = _seeds(entry)
        if seeds is None:
            continue
        train = entry.get("train") or {}
        if "seed" in train and int(train["seed"]) != seeds[0]:
            problems.append(
                f"models.{name}.train.seed: {train['seed']} is not the first of "
                f"models.{name}.train.seeds {seeds} (replicate 0 keeps the entry's name and "
                "trains with seeds[0]); remove train.seed or make it seeds[0]"
            )
        if len(set(seeds)) != len(seeds):
            problems.append(
                f"models.{name}.train.seeds: {seeds} repeats a seed; list distinct seeds"
            )
        for seed in seeds[1:]:
            other = replicate_name(name, seed)
            if other in models:
                problems.append(
                    f"models.{name}.train.seeds: the replicate of seed {seed} is named "
                    f"{other!r}, which is already a model of the config (models.{other}); "
                    "rename that model"
                )
    return problems


def model_replicates(models: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Replicate]:
    """``{model name: Replicate}`` of every replicate model, each entry's replicate 0 (its
    own name) first, then its further seeds in the order listed; entries in config order.
    Raises ``ValueError`` with every :func:`seeds_problems` line."""
    models = models or {}
    problems = seeds_problems(models)
    if problems:
        raise ValueError("invalid train.seeds:\n" + "\n".join(f"  - {p}" for p in problems))
    out: dict[str, Replicate] = {}
    for name, entry in models.items():
        seeds = _seeds(entry)
        if seeds is None:
            seed = (entry.get("train") or {}).get("seed")
            out[name] = Replicate(name, 0, None if seed is None else int(seed))
            continue
        for r, seed in enumerate(seeds):
            out[name if r == 0 else replicate_name(name, seed)] = Replicate(name, r, seed)
    return out


def expand_models(models: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The config's ``models`` as replicate models (:func:`model_replicates` order): an
    entry without ``train.seeds`` as it is; one with seeds once per seed, without the key
    ``seeds`` and with ``train.seed`` the replicate's seed (so replicate 0 of an entry that
    also gave ``train.seed`` keeps its exact training settings)."""
    models = models or {}
    out: dict[str, dict[str, Any]] = {}
    for name, rep in model_replicates(models).items():
        entry = copy.deepcopy(dict(models[rep.base]))
        if _seeds(entry) is not None:
            train = {k: v for k, v in entry["train"].items() if k != "seeds"}
            entry["train"] = {**train, "seed": rep.seed}
            entry["train"] = dict(sorted(entry["train"].items()))  # canonical key order
        out[name] = entry
    return out


def replicates_of(models: Mapping[str, Mapping[str, Any]] | None) -> dict[str, list[str]]:
    """``{config entry: its replicate models' names, replicate 0 (the entry) first}``."""
    out: dict[str, list[str]] = {}
    for name, rep in model_replicates(models).items():
        out.setdefault(rep.base, []).append(name)
    return out
