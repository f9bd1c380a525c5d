# navref: reproduce "From Navigation to Refinement" (arXiv:2512.02826) end to end.
# Default experiment: config.yaml (CPU, minutes). Paper scale: --configfile configs/paper.yaml.


from snakemake.utils import min_version

min_version("9.0")


# A --configfile on the command line replaces the default experiment instead of being
# merged into it (so configs/paper.yaml does not inherit the digits data sets).
if not workflow.overwrite_configfiles:

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
