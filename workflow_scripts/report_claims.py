"""Rule report_claims: the paper's eight claims tested on our results."""

from navref.report.build import build_claims
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    records = build_claims(
        dict(sm.input.items()), sm.params.settings, sm.output.md, sm.output.parquet
    )
    for r in records:
        log.info("claim %s: %s (%s)", r["claim_id"], r["verdict"], r["why"])
