"""Rule train_feature_net: the FID feature network of the default config, a classifier
trained on the dataset's train split (validation accuracy logged and saved)."""

from pathlib import Path

from navref.evaluation import fit_feature_net
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    fit_feature_net(
        Path(sm.input.info).parent,
        sm.params.settings,
        sm.output.weights,
        resolve_device(sm.params.device),
        log,
    )
