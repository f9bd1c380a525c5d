"""Every example in profiles/slurm/config.yaml, uncommented, passes the pinned SLURM
executor plugin's own validation and submit-command code (no cluster needed)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string
from snakemake_executor_plugin_slurm.validation import validate_slurm_extra
from snakemake_interface_common.exceptions import WorkflowError

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "slurm" / "config.yaml"


class _Resources(dict):
    """What the plugin reads from ``job.resources``: ``.get`` and attribute access."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as err:
            raise AttributeError(key) from err


def _job(resources: dict) -> SimpleNamespace:
    return SimpleNamespace(resources=_Resources(resources), threads=1, name="train_model")


def _uncommented_profile() -> dict:
    """The profile with its commented examples switched on: the ``# set-resources:`` block
    (and its ``#   ...`` lines) and the ``  # key: value`` lines under ``default-resources``."""
    lines, in_block = [], False
    for line in PROFILE.read_text().splitlines():
        if line == "# set-resources:":
            in_block = True
            lines.append(line[2:])
            continue
        if in_block and line.startswith("#   "):
            lines.append(line[2:])
            continue
        in_block = False
        m = re.match(r"^  # (slurm_\w+: .*)$", line)
        lines.append("  " + m.group(1) if m else line)
    return yaml.safe_load("\n".join(lines))


def _submit(resources: dict) -> str:
    job = _job(resources)
    validate_slurm_extra(job)
    params = dict(
        run_uuid="u", slurm_logfile="log", comment_str="c", account="", partition="",
        workdir=None,
    )  # fmt: skip
    return get_submit_command(job, params) + set_gres_string(job)


def test_profile_examples_are_accepted_by_the_plugin():
    profile = _uncommented_profile()
    rules = profile["set-resources"]
    assert rules, "the profile's set-resources example was not found"
    defaults = profile["default-resources"]
    assert {"slurm_partition", "slurm_account"} <= set(defaults)
    for rule, res in rules.items():
        call = _submit({"gpu": 8, "cpus_per_gpu": 8, **defaults, **res})
        assert "--qos=long" in call, (rule, call)
        assert "--gpus=a100:8" in call and "-C ib" in call
        assert "--mail-type=FAIL" in call


def test_plugin_rejects_managed_flags_in_slurm_extra():
    """The fault the old example had: the plugin refuses --qos inside slurm_extra."""
    with pytest.raises(WorkflowError, match="not allowed"):
        validate_slurm_extra(_job({"slurm_extra": "'--qos=long'"}))
