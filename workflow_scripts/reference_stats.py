"""Rule reference_stats: features and FID statistics of the real train images, computed
once per dataset and feature network (not through torch-fidelity's name-keyed cache)."""

from pathlib import Path

from navref.evaluation import reference_stats
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    reference_stats(
        Path(sm.input.info).parent,
        sm.params.settings,
        sm.input.feature_net if "feature_net" in sm.input.keys() else None,
        sm.output[0],
        resolve_device(sm.params.device),
        log,
    )
