# Model probes: oracle/CFM loss curves (Fig. 7, 9), intermediate predictions (Fig. 4, 8),
# mixed oracle->model sampling (Fig. 5) and unseen-data resume (Fig. 6). The mixed and
# unseen probes run one job per model for all their taus (model, latent space and decoder
# loaded once; each tau draws its own noise, so its outputs are those of a job of its own):
# a new tau reruns the other taus of that probe too, a few seconds each.


include: "functions/probes.smk"


# One loss-curve job per model (every training replicate, loss_curve_models) writes the tables of all its checkpoints (they come from one
# train_model job and read one config slice, so no rerun is coarser). A rule per model: its
# list of outputs (the model's checkpoints) differs between models.
for _model in loss_curve_models():

    rule:
        name:
            f"probe_loss_curves_{_model}"
        input:
            **model_files(_model),
        output:
            loss_curve_files(_model),
        log:
            f"{RESULTS}/logs/probe_loss_curves/{_model}.log",
        benchmark:
            f"{RESULTS}/benchmarks/probe_loss_curves/{_model}.tsv"
        conda:
            "../envs/navref.yaml"
        threads: rule_threads("probe_loss_curves")
        resources:
            **rule_resources(
                "probe_loss_curves",
                mem_mb=8000,
                runtime=60 * len(model_checkpoints(_model)),
            ),
        params:
            settings=probe_params("loss_curves"),
            seed=SEED,
            device=DEVICE,
            precision=PRECISION,
        script:
            "../workflow_scripts/probe_loss_curves.py"


# The stage-free control of claims 4 and 10 (navref.gaussian_null), once per latent space
# for all its probe jobs: class means and the pooled within-class covariance of the training
# latents, streamed in chunks and eigendecomposed once (float64; on the GPU where it has one).
rule gaussian_control:
    input:
        unpack(gaussian_control_inputs),
    output:
        control=control_file("{space}"),
        meta=latent_file("{space}", "gaussian_control.json"),
    log:
        f"{RESULTS}/logs/gaussian_control/{{space}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gaussian_control/{{space}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("gaussian_control")
    resources:
        **rule_resources("gaussian_control", mem_mb=8000, runtime=60),
    params:
        device=DEVICE,
    script:
        "../workflow_scripts/gaussian_control.py"


rule probe_intermediate:
    input:
        unpack(intermediate_inputs),
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
        unpack(tau_inputs("mixed")),
    output:
        table=tau_files("mixed", "{model}", "parquet"),
        grid=[
            report(
                png,
                caption="../report/captions/mixed_grid.rst",
                category=REPORT_CATEGORIES["probes"],
                subcategory=SUB_MIXED,
                labels=tau_probe_labels(i),
            )
            for i, png in enumerate(tau_files("mixed", "{model}", "png"))
        ],
    log:
        f"{RESULTS}/logs/probe_mixed/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_mixed/{{model}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("probe_mixed")
    resources:
        **rule_resources("probe_mixed", mem_mb=8000, runtime=tau_runtime("mixed")),
    params:
        settings=lambda w: probe_params("mixed"),
        seed=SEED,
        device=DEVICE,
        precision=PRECISION,
    script:
        "../workflow_scripts/probe_tau.py"


rule probe_unseen:
    input:
        unpack(tau_inputs("unseen")),
    output:
        table=tau_files("unseen", "{model}", "parquet"),
        grid=[
            report(
                png,
                caption="../report/captions/unseen_grid.rst",
                category=REPORT_CATEGORIES["probes"],
                subcategory=SUB_UNSEEN,
                labels=tau_probe_labels(i),
            )
            for i, png in enumerate(tau_files("unseen", "{model}", "png"))
        ],
    log:
        f"{RESULTS}/logs/probe_unseen/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/probe_unseen/{{model}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("probe_unseen")
    resources:
        **rule_resources("probe_unseen", mem_mb=8000, runtime=tau_runtime("unseen")),
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
