"""Rule link_pretrained: the model file of a released checkpoint, in place of training."""

from navref.models.pretrained import link_pretrained
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    link_pretrained(dict(sm.params.settings), sm.input.stats, sm.output[0], log=log)
