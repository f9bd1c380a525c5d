"""Rule provenance: results/<run_name>/provenance.json and its report page."""

from navref.report.build import build_provenance
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    build_provenance(dict(sm.output.items()), sm.config, sm.params.log_dir)
