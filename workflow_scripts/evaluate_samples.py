"""Rule evaluate_samples: FID, KID, precision/recall and memorization of the sample sets of
one setting (one row per seed), and FID's bootstrap replicates."""

from navref.evaluation import evaluate_setting
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    evaluate_setting(
        list(sm.input.samples),
        dict(sm.input.items()),
        sm.params.settings,
        {"sweep": sm.wildcards.sweep, "setting": sm.wildcards.setting},
        sm.output.metrics,
        sm.output.bootstrap,
        resolve_device(sm.params.device),
        log,
    )
