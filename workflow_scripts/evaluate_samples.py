"""Rule evaluate_samples: FID, KID, precision/recall and memorization of one sample set."""

from navref.evaluation import evaluate_sample_set
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    evaluate_sample_set(
        sm.input.samples,
        dict(sm.input.items()),
        sm.params.settings,
        {"sweep": sm.wildcards.sweep, "setting": sm.wildcards.setting},
        sm.output[0],
        resolve_device(sm.params.device),
        log,
    )
