"""Conda environments (envs/*.yaml) agree with pyproject.toml, and every rule uses one.

- each env pins python (conda) to a version pyproject's requires-python accepts, takes pip
  from conda, and pins every pip package exactly (``name==version``);
- every package pinned in an env is in pyproject (runtime or optional dependencies) with
  the same version, and envs/navref.yaml holds every runtime dependency (torch and
  torchvision included) -- both directions, so bumping a pin in one place fails here;
- the Makefile's explicit torch/torchvision pins agree with pyproject too;
- every rule that runs code has a ``conda:`` directive naming an existing envs/*.yaml.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
ENVS = sorted((REPO / "envs").glob("*.yaml"))
MAIN_ENV = REPO / "envs" / "navref.yaml"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def exact_pins(requirements: list[str], where: str) -> dict[str, str]:
    """``name==version`` strings -> {canonical name: version}; anything else is an error."""
    pins = {}
    for line in requirements:
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", (
            f"{where}: {line!r} is not an exact pin"
        )
        name = canonicalize_name(req.name)
        assert name not in pins, f"{where}: {req.name} listed twice"
        pins[name] = specs[0].version
    return pins


def runtime_pins() -> dict[str, str]:
    return exact_pins(PYPROJECT["dependencies"], "pyproject [project] dependencies")


def all_pyproject_pins() -> dict[str, str]:
    pins = runtime_pins()
    for group, reqs in PYPROJECT.get("optional-dependencies", {}).items():
        pins.update(exact_pins(reqs, f"pyproject optional-dependencies.{group}"))
    return pins


def env_parts(path: Path) -> tuple[list[str], dict[str, str]]:
    """(conda dependency strings, pip pins) of an environment file."""
    env = yaml.safe_load(path.read_text())
    conda, pip = [], []
    for dep in env.get("dependencies", []):
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"{path.name}: unexpected entry {dep}"
            pip += [p for p in dep["pip"] if not p.startswith("-")]  # skip --extra-index-url
        else:
            conda.append(str(dep))
    return conda, exact_pins(pip, f"{path.name} pip")


def test_envs_exist():
    assert MAIN_ENV in ENVS, "envs/navref.yaml is the environment of the workflow's rules"


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_python_and_pip_from_conda(path):
    env = yaml.safe_load(path.read_text())
    assert "conda-forge" in env.get("channels", []), f"{path.name}: use the conda-forge channel"
    conda, _ = env_parts(path)
    names = {re.split(r"[=<>! ]", c, maxsplit=1)[0]: c for c in conda}
    assert "pip" in names, f"{path.name}: pip must come from conda"
    m = re.fullmatch(r"python\s*=+\s*(\d+\.\d+)(?:\.\*)?", names.get("python", ""))
    assert m, (
        f"{path.name}: pin python to a minor version, e.g. python=3.11 (got {names.get('python')})"
    )
    allowed = SpecifierSet(PYPROJECT["requires-python"])
    assert allowed.contains(m.group(1) + ".0"), f"{path.name}: python {m.group(1)} vs {allowed}"
    # the project's packages belong under pip:, where their names and pins are pyproject's
    clash = {canonicalize_name(n) for n in names} & set(all_pyproject_pins())
    assert not clash, f"{path.name}: put {sorted(clash)} under pip: with pyproject's pins"


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_pins_agree_with_pyproject(path):
    _, pins = env_parts(path)
    project = all_pyproject_pins()
    unknown = sorted(set(pins) - set(project))
    assert not unknown, f"{path.name} pins {unknown}, which pyproject.toml does not list"
    differ = {n: (v, project[n]) for n, v in pins.items() if project[n] != v}
    assert not differ, f"{path.name} vs pyproject.toml versions (env, pyproject): {differ}"


def test_main_env_has_every_runtime_dependency():
    _, pins = env_parts(MAIN_ENV)
    runtime = runtime_pins()
    assert {"torch", "torchvision"} <= set(runtime)
    missing = sorted(set(runtime) - set(pins))
    assert not missing, f"envs/navref.yaml lacks runtime dependencies {missing}"
    assert {n: pins[n] for n in runtime} == runtime


def test_makefile_pins_agree_with_pyproject():
    makefile = (REPO / "Makefile").read_text()
    project = all_pyproject_pins()
    pins = re.findall(r"\b([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)", makefile)
    for name, version in pins:
        name = canonicalize_name(name)
        assert project.get(name) == version, (
            f"Makefile pins {name}=={version}, pyproject {project.get(name)}"
        )


def rule_blocks(text: str) -> dict[str, str]:
    """Top-level ``rule name:`` blocks of a Snakefile: name -> body."""
    blocks = {}
    for m in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|[ \t]*\n)*)", text, re.M):
        blocks[m.group(1)] = m.group(2)
    return blocks


def test_every_rule_with_code_uses_an_env():
    sources = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    seen = 0
    for src in sources:
        for name, body in rule_blocks(src.read_text()).items():
            if not re.search(r"^\s+(script|shell|run|notebook|wrapper):", body, re.M):
                continue  # e.g. rule all: only inputs
            seen += 1
            m = re.search(r"^\s+conda:\s*\n?\s*[\"']([^\"']+)[\"']", body, re.M)
            assert m, f"rule {name} ({src.name}) has no conda: directive"
            env = (src.parent / m.group(1)).resolve()
            assert env in [e.resolve() for e in ENVS], (
                f"rule {name}: conda env {m.group(1)} -> {env}"
            )
    assert seen, "no rules found"
