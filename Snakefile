# navref: reproduce "From Navigation to Refinement" (arXiv:2512.02826) end to end.
# Default experiment: config.yaml (CPU, minutes). Paper scale: --configfile configs/paper.yaml.


import os
import sys

from snakemake.utils import min_version

min_version("9.0")


# navref is importable by every job (plain venv, conda env or a SLURM node) without install.
sys.path.insert(0, workflow.basedir)
from navref.config import check_config_file

# A --configfile on the command line replaces the default experiment instead of being
# merged into it (so configs/paper.yaml does not inherit the digits data sets). Snakemake
# reads a --configfile before this file (`make` checks it first: python -m navref.config).
if not workflow.overwrite_configfiles:
    if os.path.exists("config.yaml"):
        check_config_file("config.yaml")  # an empty or broken file: its name and line

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/oracle.smk"
include: "rules/train.smk"
include: "rules/probes.smk"
include: "rules/sweeps.smk"
include: "rules/evaluation.smk"
include: "rules/paired.smk"
include: "rules/report.smk"
include: "rules/targets.smk"


report: "report/workflow.rst"


rule all:
    default_target: True
    input:
        all_targets(),
        f"{RESULTS}/provenance.json",
