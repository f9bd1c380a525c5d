"""Rule train_feature_net: the FID feature network of the default config, a classifier
trained on the dataset's train split (validation accuracy logged and saved)."""

from pathlib import Path

from navref.jobs import train_images
from navref.metrics.feature_net import save_feature_net, train_feature_net
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    cfg = sm.params.cfg
    x, y, xv, yv = train_images(Path(sm.input.info).parent)
    model, metrics = train_feature_net(
        x, y, int(y.max()) + 1, val_images=xv, val_labels=yv,
        steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"], seed=cfg["seed"],
        device=resolve_device(sm.params.device),
    )  # fmt: skip
    log.info("feature net: validation accuracy %.4f (%s)", metrics["val_accuracy"], metrics)
    save_feature_net(model, sm.output.weights, metrics)
