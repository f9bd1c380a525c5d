# Model probes: oracle/CFM loss curves (Fig. 7, 9), intermediate predictions (Fig. 4, 8),
# mixed oracle->model sampling (Fig. 5) and unseen-data resume (Fig. 6).


include: "functions/probes.smk"


rule probe_loss_curves:
    input:
        unpack(model_inputs),
    output:
        f"{RESULTS}/probes/loss_curves/{{model}}/{{ckpt}}.parquet",
    log:
        f"{RESULTS}/logs/probe_loss_curves/{{model}}/{{ckpt}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_loss_curves/{{model}}/{{ckpt}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("probe_loss_curves")
    resources:
        **rule_resources("probe_loss_curves", mem_mb=8000, runtime=60),
    params:
        settings=lambda w: probe_params("loss_curves"),
        seed=SEED,
        device=DEVICE,
        precision=PRECISION,
    script:
        "../workflow_scripts/probe_loss_curves.py"


rule probe_intermediate:
    input:
        unpack(model_inputs),
    output:
        table=f"{RESULTS}/probes/intermediate/{{model}}.parquet",
        grid=report(
            f"{RESULTS}/probes/intermediate/{{model}}.png",
            caption="../report/captions/intermediate_grid.rst",
            category=REPORT_CATEGORIES["probes"],
            subcategory=SUB_INTERMEDIATE,
            labels={"item": "Fig. 8: one model", "model": "{model}"},
        ),
    log:
        f"{RESULTS}/logs/probe_intermediate/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_intermediate/{{model}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("probe_intermediate")
    resources:
        **rule_resources("probe_intermediate", mem_mb=8000, runtime=60),
    params:
        settings=lambda w: probe_params("intermediate"),
        seed=SEED,
        device=DEVICE,
        precision=PRECISION,
    script:
        "../workflow_scripts/probe_intermediate.py"


rule probe_mixed:
    input:
        unpack(tau_inputs),
    output:
        table=f"{RESULTS}/probes/mixed/{{model}}/tau{{tau}}.parquet",
        grid=report(
            f"{RESULTS}/probes/mixed/{{model}}/tau{{tau}}.png",
            caption="../report/captions/mixed_grid.rst",
            category=REPORT_CATEGORIES["probes"],
            subcategory=SUB_MIXED,
            labels=tau_probe_labels,
        ),
    log:
        f"{RESULTS}/logs/probe_mixed/{{model}}/tau{{tau}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_mixed/{{model}}/tau{{tau}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("probe_mixed")
    resources:
        **rule_resources("probe_mixed", mem_mb=8000, runtime=60),
    params:
        settings=lambda w: probe_params("mixed"),
        seed=SEED,
        device=DEVICE,
        precision=PRECISION,
    script:
        "../workflow_scripts/probe_tau.py"


rule probe_unseen:
    input:
        unpack(tau_inputs),
    output:
        table=f"{RESULTS}/probes/unseen/{{model}}/tau{{tau}}.parquet",
        grid=report(
            f"{RESULTS}/probes/unseen/{{model}}/tau{{tau}}.png",
            caption="../report/captions/unseen_grid.rst",
            category=REPORT_CATEGORIES["probes"],
            subcategory=SUB_UNSEEN,
            labels=tau_probe_labels,
        ),
    log:
        f"{RESULTS}/logs/probe_unseen/{{model}}/tau{{tau}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_unseen/{{model}}/tau{{tau}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("probe_unseen")
    resources:
        **rule_resources("probe_unseen", mem_mb=8000, runtime=60),
    params:
        settings=lambda w: probe_params("unseen"),
        seed=SEED,
        device=DEVICE,
        precision=PRECISION,
    script:
        "../workflow_scripts/probe_tau.py"


rule probe_tables:
    input:
        unpack(probe_job_tables),
    output:
        f"{RESULTS}/probes/{{probe}}.parquet",
    log:
        f"{RESULTS}/logs/probe_tables/{{probe}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_tables/{{probe}}.tsv"
    wildcard_constraints:
        probe="|".join(PROBE_KINDS),
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        models=lambda w: probe_model_meta(w.probe),
    script:
        "../workflow_scripts/probe_tables.py"
