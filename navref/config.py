"""Configuration checks beyond the JSON schema, and readable schema errors.

The Snakefile validates the config with ``snakemake.utils.validate`` against
``schemas/config.schema.yaml``; on failure :func:`explain` turns jsonschema's errors into
one line per problem that names the key path and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


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


def check_references(config: dict[str, Any]) -> None:
    """Check cross-references between config sections (names that must exist).

    Raises :class:`ConfigError` listing every dangling reference.
    """
    problems = []
    datasets = config.get("datasets", {})
    vaes = config.get("vaes", {})
    spaces = config.get("latent_spaces", {})

    def need(section: str, name: str, target: dict, target_name: str) -> None:
        if name not in target:
            problems.append(
                f"{section}: refers to {target_name} {name!r}, which is not defined; "
                f"defined {target_name}s: {sorted(target)}"
            )

    for name, v in vaes.items():
        need(f"vaes.{name}.dataset", v["dataset"], datasets, "dataset")
        if name in vaes and v["dataset"] in datasets:
            if datasets[v["dataset"]]["kind"] == "synthetic_gaussian":
                problems.append(
                    f"vaes.{name}: a VAE needs an image dataset, not synthetic_gaussian"
                )
    for name, s in spaces.items():
        need(f"latent_spaces.{name}.dataset", s["dataset"], datasets, "dataset")
        if s.get("vae"):
            need(f"latent_spaces.{name}.vae", s["vae"], vaes, "vae")
            if s["vae"] in vaes and vaes[s["vae"]]["dataset"] != s["dataset"]:
                problems.append(
                    f"latent_spaces.{name}: VAE {s['vae']!r} is trained on dataset "
                    f"{vaes[s['vae']]['dataset']!r}, but the space encodes {s['dataset']!r}"
                )
    models = config.get("models", {})
    for name, m in models.items():
        need(f"models.{name}.space", m["space"], spaces, "latent space")
        if (
            m["space"] in spaces
            and datasets.get(spaces[m["space"]]["dataset"], {}).get("kind") == "synthetic_gaussian"
        ):
            problems.append(f"models.{name}: DiTs need an image latent space, not vectors")
        steps = m["train"]["steps"]
        late = [s for s in m["train"].get("checkpoint_steps", []) if s > steps]
        if late:
            problems.append(
                f"models.{name}.train.checkpoint_steps: {late} exceed steps={steps}; "
                "checkpoints must lie within the run"
            )
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
