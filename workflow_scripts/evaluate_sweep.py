"""Rules evaluate_sweep_<kind> (every setting of a sweep, of one data set): FID, KID, precision/recall and memorization of each setting's sample sets (one row per
seed), and FID's bootstrap replicates (see navref.evaluation.evaluate_settings)."""

from navref.evaluation import evaluate_settings
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    evaluate_settings(
        sm.params.groups,
        dict(sm.input.items()),
        sm.params.settings,
        resolve_device(sm.params.device),
        log,
    )
