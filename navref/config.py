"""Configuration checks beyond the JSON schema, and readable schema errors.

The Snakefile validates the config with ``snakemake.utils.validate`` against
``schemas/config.schema.yaml``; on failure :func:`explain` turns jsonschema's errors into
one line per problem that names the key path and what is allowed.
"""

from __future__ import annotations

import functools
import math
import os
import re
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


#: Keys a config may still carry from an earlier navref: {key path: what to do instead}
#: (refused, with this message, by :func:`explain`).
REMOVED_KEYS = {
    "evaluation.jobs": (
        "evaluation is one job per sweep (rule evaluate_sweep_<kind>, one per sweep and data "
        "set); delete the key"
    ),
    "resources.evaluate_samples": (
        "rule evaluate_samples was removed (evaluation is one job per sweep); size those "
        "jobs with resources.evaluate_sweep"
    ),
}


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
                full = where + "." + key if err.absolute_path else key
                if full in REMOVED_KEYS:
                    lines.append(f"key {full!r} was removed: {REMOVED_KEYS[full]}")
                    continue
                lines.append(
                    f"unknown key {full!r}: allowed keys here are {_allowed_keys(err.schema)}"
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
        elif err.validator == "oneOf" and _released_with_train(err.absolute_path, err.instance):
            lines.append(
                f"{where}: a released model (`pretrained`) is linked, not trained, so it "
                f"takes no `train` block{_seeds_note(err.instance)}; remove {where}.train, or "
                "drop `pretrained` (and give `arch` as a mapping) to train the model"
            )
        elif err.validator in ("oneOf", "anyOf", "allOf", "if"):
            sub = [e.message for e in (err.context or [])]
            lines.append(f"{where}: {err.message}" + (f" ({'; '.join(sub[:3])})" if sub else ""))
        else:
            lines.append(f"{where}: {err.message}")
    return "\n".join(f"  - {line}" for line in lines)


def _released_with_train(path: Any, instance: Any) -> bool:
    """Whether a schema error is about a ``models`` entry with both ``pretrained`` and
    ``train`` (e.g. ``train.seeds`` on a released model)."""
    return (
        len(path) == 2
        and path[0] == "models"
        and isinstance(instance, dict)
        and "pretrained" in instance
        and "train" in instance
    )


def _seeds_note(entry: dict[str, Any]) -> str:
    train = entry.get("train")
    return (
        " (nor training seeds, train.seeds)" if isinstance(train, dict) and "seeds" in train else ""
    )


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


# ----------------------------------------------------------------------------- canonical values

#: Schema annotation of a path key: ``input`` = a local file or folder a job reads
#: (normalised here, fingerprinted by :func:`local_input_stamps`); ``subpath`` = a path
#: inside such an input (normalised only).
PATH_KEYWORD = "x-path"

_INTEGER = re.compile(r"[-+]?[0-9]+")


class _Schema:
    """The parts of ``schemas/config.schema.yaml`` that say what a value is: its declared
    types, string enums and patterns, path annotation, and the schemas of its children."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ConfigError(f"schema: only local $refs are supported, got {ref!r}")
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def branches(self, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``nodes`` and every subschema that applies to the same value (``allOf``,
        ``anyOf``, ``oneOf``, ``then``, ``else``; ``$ref`` resolved), flattened."""
        out: list[dict[str, Any]] = []
        todo = list(nodes)
        while todo:
            node = self._resolve(todo.pop(0))
            if not isinstance(node, dict):
                continue
            out.append(node)
            for key in ("allOf", "anyOf", "oneOf"):
                todo += node.get(key, [])
            todo += [node[k] for k in ("then", "else") if isinstance(node.get(k), dict)]
        return out

    @staticmethod
    def types(branches: list[dict[str, Any]]) -> set[str]:
        found: set[str] = set()
        for node in branches:
            declared = node.get("type", [])
            found.update([declared] if isinstance(declared, str) else declared)
        return found

    def child(self, branches: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        """The schemas of mapping entry ``key`` (``properties``, else ``additionalProperties``)."""
        found = []
        for node in branches:
            props = node.get("properties", {})
            if key in props:
                found.append(props[key])
            elif isinstance(node.get("additionalProperties"), dict):
                found.append(node["additionalProperties"])
        return self.branches(found)

    def items(self, branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.branches([n["items"] for n in branches if isinstance(n.get("items"), dict)])

    @staticmethod
    def path_kind(branches: list[dict[str, Any]]) -> str | None:
        return next((n[PATH_KEYWORD] for n in branches if PATH_KEYWORD in n), None)


@functools.lru_cache
def _load_schema(path: str) -> _Schema:
    return _Schema(yaml.safe_load(Path(path).read_text()))


def _string_allowed(value: str, branches: list[dict[str, Any]]) -> bool:
    """Whether some branch takes ``value`` as a string (its type, enum and pattern)."""
    for node in branches:
        declared = node.get("type", [])
        if "string" not in ([declared] if isinstance(declared, str) else declared):
            continue
        if "enum" in node and value not in node["enum"]:
            continue
        if "pattern" in node and not re.search(node["pattern"], value):
            continue
        return True
    return False


def _parse_scalar(text: str) -> Any:
    """A string as a YAML 1.2 scalar: ``1e-3`` is a number (PyYAML's YAML 1.1 reads it as
    a string), as are the strings Snakemake hands over for nested ``--config`` values."""
    stripped = text.strip()
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    if stripped.lower() in ("null", "~"):
        return None
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    try:
        number = float(stripped)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _fits(value: Any, types: set[str]) -> bool:
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, int):
        return bool(types & {"integer", "number"})
    if isinstance(value, float):
        return "number" in types or ("integer" in types and value.is_integer())
    return value is None and "null" in types


def canonical_path(path: str, base: str | Path) -> str:
    """``path`` spelled one way: ``~`` expanded, ``.``/``..``/trailing slashes folded,
    relative to ``base`` (the working directory) when inside it, else absolute. So ``./x``,
    ``x/`` and ``<base>/x`` are the same value."""
    full = os.path.normpath(os.path.join(str(base), os.path.expanduser(path)))
    rel = os.path.relpath(full, os.path.normpath(str(base)))
    return full if rel == ".." or rel.startswith(".." + os.sep) else rel


def _canonical(value: Any, branches: list[dict[str, Any]], schema: _Schema, base: Path) -> Any:
    if isinstance(value, dict):
        return {
            key: _canonical(value[key], schema.child(branches, str(key)), schema, base)
            for key in sorted(value, key=str)
        }
    if isinstance(value, list):
        items = schema.items(branches)
        return [_canonical(v, items, schema, base) for v in value]
    types = schema.types(branches)
    if isinstance(value, str) and not _string_allowed(value, branches):
        parsed = _parse_scalar(value)
        if not isinstance(parsed, str) and _fits(parsed, types):
            value = parsed
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "number" in types:
            value = float(value)
        elif "integer" in types and isinstance(value, float) and value.is_integer():
            value = int(value)
    kind = schema.path_kind(branches)
    if isinstance(value, str) and kind == "input":
        value = canonical_path(value, base)
    elif isinstance(value, str) and kind == "subpath":
        value = os.path.normpath(value)
    return value


def canonical_config(
    config: dict[str, Any], schema_path: str | Path, base: str | Path | None = None
) -> dict[str, Any]:
    """``config`` with every value spelled one way, driven by the schema, so that the
    params Snakemake compares (their ``repr``) follow values, not spellings:

    - mappings sorted by key at every level (YAML mappings have no order; every entry list
      the workflow derives from one, e.g. the models, is in name order);
    - an ``integer`` key written as an integral float (``steps: 30.0``) becomes the int, a
      ``number`` key always a float (``lr: 1`` is ``1.0``);
    - a string where the schema wants a number, integer, boolean or null is read as a
      YAML 1.2 scalar (``lr: 1e-3``, or nested ``--config`` values, which Snakemake hands
      over as strings), when that fits the key's type;
    - ``x-path: input`` keys by :func:`canonical_path` (relative to ``base``, default the
      working directory), ``x-path: subpath`` keys normalised.

    A value that cannot be read as its type is left as it is, for the schema's validation
    to refuse naming the key (e.g. ``steps: 30.5``).
    """
    schema = _load_schema(str(schema_path))
    out = _canonical(config, schema.branches([schema.root]), schema, Path(base or os.getcwd()))
    bad = _nonfinite_keys(out)
    if bad:
        raise ConfigError(
            f"{', '.join(bad)}: not a finite number (NaN or infinity, e.g. YAML's .nan / .inf); "
            "write a finite value"
        )
    return out


def _nonfinite_keys(value: Any, where: str = "") -> list[str]:
    """Key paths of the NaN / infinite floats in ``value``: no key of navref takes one."""
    if isinstance(value, dict):
        return [
            k
            for key, sub in value.items()
            for k in _nonfinite_keys(sub, f"{where}.{key}".lstrip("."))
        ]
    if isinstance(value, list):
        return [k for i, sub in enumerate(value) for k in _nonfinite_keys(sub, f"{where}[{i}]")]
    return [where] if isinstance(value, float) and not math.isfinite(value) else []


def local_inputs(config: dict[str, Any], schema_path: str | Path) -> dict[str, str]:
    """Every ``x-path: input`` value of ``config``: {key path: path}."""
    schema = _load_schema(str(schema_path))
    found: dict[str, str] = {}

    def walk(value: Any, branches: list[dict[str, Any]], where: str) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(sub, schema.child(branches, str(key)), f"{where}.{key}".lstrip("."))
        elif isinstance(value, list):
            items = schema.items(branches)
            for i, sub in enumerate(value):
                walk(sub, items, f"{where}[{i}]")
        elif isinstance(value, str) and schema.path_kind(branches) == "input":
            found[where] = value

    walk(config, schema.branches([schema.root]), "")
    return found


# ----------------------------------------------------------------------------- config files


def check_config_file(path: str | Path) -> dict[str, Any]:
    """Load config file ``path`` as Snakemake does (YAML; JSON is YAML) and return it; an
    empty file, a YAML syntax error (with its line and column) or a top level that is not a
    mapping raises :class:`ConfigError` naming the file, the line and the fix."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        loaded = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark, context = err.problem_mark or err.context_mark, err.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = err.problem or err.context or "syntax error"
        if err.context and err.problem and context is not None:
            problem += f" ({err.context} at line {context.line + 1}, column {context.column + 1})"
        raise ConfigError(
            f"{where}: not valid YAML: {problem}; fix the YAML there (indent with spaces, "
            "close every bracket and quote)"
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if loaded is None:
        raise ConfigError(
            f"{path}, line 1: the config file is empty; it must be a mapping of keys "
            "(datasets, latent_spaces, ...), e.g. a copy of config.yaml; every key is "
            "documented in schemas/config.schema.yaml"
        )
    if not isinstance(loaded, dict):
        line = next(
            (
                i
                for i, s in enumerate(text.splitlines(), 1)
                if s.strip() and not s.lstrip().startswith("#")
            ),
            1,
        )
        raise ConfigError(
            f"{path}, line {line}: the top level is a {type(loaded).__name__}, not a mapping "
            "of keys; write `key: value` lines (datasets:, latent_spaces:, ...) as in config.yaml"
        )
    return loaded


def main(argv: list[str] | None = None) -> int:
    """``python -m navref.config FILE...``: check config files before Snakemake reads them
    (its own message for a broken ``--configfile`` names neither the file nor the line);
    the Makefile runs it before every snakemake call. Exit status 1 with the message."""
    import sys

    for path in sys.argv[1:] if argv is None else argv:
        try:
            check_config_file(path)
        except (ConfigError, OSError) as err:
            print(f"ConfigError: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
