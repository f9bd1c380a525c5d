# Paired bootstrap of FID differences between settings that share noise (issue 15): each
# sweep's per-setting bootstrap replicates in one table, read by Tab. 1-3 and the claims.


include: "functions/paired.smk"


rule paired_replicates:
    input:
        paired_replicate_inputs,
    output:
        sweep_bootstrap_file("{sweep}"),
    log:
        f"{RESULTS}/logs/paired_replicates/{{sweep}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/paired_replicates/{{sweep}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda w: [run.setting for run in sweep_runs(w.sweep).values()],
        train_replicates=lambda w: [
            run.replicate for run in sweep_runs(w.sweep).values()
        ],
    script:
        "../workflow_scripts/paired_replicates.py"
