"""Configuration checks beyond the JSON schema, and readable schema errors.

The Snakefile validates the config with ``snakemake.utils.validate`` against
``schemas/config.schema.yaml``; on failure :func:`explain` turns jsonschema's errors into
one line per problem that names the key path and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: File endings of an LDM-format VAE checkpoint named by ``latent_spaces.<s>.pretrained``
#: (converted once by rule ``convert_vae``); any other path is a diffusers directory.
LDM_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def is_ldm_checkpoint(path: str | Path) -> bool:
    """Whether ``latent_spaces.<s>.pretrained`` names an LDM checkpoint file (by its ending,
    so the workflow plans the same jobs whether or not the file is on this machine)."""
    return Path(path).suffix.lower() in LDM_CHECKPOINT_SUFFIXES


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and the fix."""


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _allowed_keys(schema: dict[str, Any]) -> list[str]:
    return sorted(schema.get("properties", {}))


def explain(config: dict[str, Any], schema_path: str | Path) -> str:
    """Return a readable list of every schema violation in ``config`` ('' if none)."""
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        where = _key_path(err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            for key in extra:
                lines.append(
                    f"unknown key {where + '.' + key if err.absolute_path else key!r}: "
                    f"allowed keys here are {_allowed_keys(err.schema)}"
                )
        elif err.validator == "enum":
            lines.append(
                f"{where}: {err.instance!r} is not allowed; choose one of {err.validator_value}"
            )
        elif err.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            lines.append(
                f"{where}: {err.instance!r} violates {err.validator} {err.validator_value}"
            )
        elif err.validator == "required":
            lines.append(f"{where}: {err.message}")
        elif err.validator == "type":
            lines.append(f"{where}: {err.instance!r} must be of type {err.validator_value}")
        elif err.validator in ("oneOf", "anyOf", "allOf", "if"):
            sub = [e.message for e in (err.context or [])]
            lines.append(f"{where}: {err.message}" + (f" ({'; '.join(sub[:3])})" if sub else ""))
        else:
            lines.append(f"{where}: {err.message}")
    return "\n".join(f"  - {line}" for line in lines)


# Every config value that names an entry of another section: (key path, target section).
# In a key path "*" stands for any entry name of a mapping and "[]" for any list item.
REFERENCES = (
    ("vaes.*.dataset", "datasets"),
    ("latent_spaces.*.dataset", "datasets"),
    ("latent_spaces.*.vae", "vaes"),
    ("models.*.space", "latent_spaces"),
    ("oracle.objective.spaces.[]", "latent_spaces"),
    ("probes.loss_curves.models.[]", "models"),
    ("probes.intermediate.models.[]", "models"),
    ("probes.mixed.models.[]", "models"),
    ("probes.unseen.models.[]", "models"),
    ("sweeps.stage_swap.pairs.[].[]", "models"),
    ("sweeps.timestep_shift.model", "models"),
    ("sweeps.cfg_interval.model", "models"),
    ("report.model", "models"),
    ("report.probe_space", "latent_spaces"),
    ("report.semantic_space", "latent_spaces"),
    ("report.other_space", "latent_spaces"),
)


def values_at(config: Any, key_path: str) -> list[tuple[str, Any]]:
    """Every (concrete key path, value) that the pattern ``key_path`` matches in ``config``.

    ``*`` matches each key of a mapping, ``[]`` each item of a list (written ``[i]``).
    Missing keys match nothing.
    """
    found: list[tuple[str, Any]] = [("", config)]
    for part in key_path.split("."):
        step = []
        for where, node in found:
            if part == "*" and isinstance(node, dict):
                step += [(f"{where}.{k}".lstrip("."), v) for k, v in node.items()]
            elif part == "[]" and isinstance(node, list):
                step += [(f"{where}[{i}]", v) for i, v in enumerate(node)]
            elif isinstance(node, dict) and part in node:
                step.append((f"{where}.{part}".lstrip("."), node[part]))
        found = step
    return found


def dangling_references(config: dict[str, Any]) -> list[str]:
    """One line per name in :data:`REFERENCES` that its target section does not define."""
    problems = []
    for key_path, section in REFERENCES:
        defined = sorted(config.get(section) or {})
        for where, name in values_at(config, key_path):
            if name is not None and name not in defined:
                problems.append(
                    f"{where}: {name!r} is not defined under `{section}`; "
                    f"allowed: {defined or '(none defined)'}"
                )
    return problems


def check_references(config: dict[str, Any]) -> None:
    """Check every cross-reference (:data:`REFERENCES`), then the relations between values
    (:func:`navref.config_relations.relation_problems`), before any job starts.

    Raises :class:`ConfigError` listing every problem with its key path and the fix.
    """
    from navref.config_relations import relation_problems

    problems = dangling_references(config)
    if not problems:  # relations look entries up by name: only once every name resolves
        problems = relation_problems(config)
    if problems:
        raise ConfigError("invalid config:\n" + "\n".join(f"  - {p}" for p in problems))


def t_grid(spec: list[float] | dict[str, Any]) -> list[float]:
    """A time grid from the config: an explicit list, or ``{start, stop, num}`` (linspace).

    Values are rounded to 6 decimals so they print and compare cleanly.
    """
    if isinstance(spec, dict):
        import numpy as np

        grid = np.linspace(float(spec.get("start", 0.0)), float(spec["stop"]), int(spec["num"]))
        return [round(float(t), 6) for t in grid]
    return [round(float(t), 6) for t in spec]
