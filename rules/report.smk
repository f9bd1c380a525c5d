# Tables, figures, the claims check and the Snakemake report.


include: "functions/report.smk"


rule report_sweep_table:
    input:
        sweeps=lambda w: f"{RESULTS}/metrics/{table_sweep(w.table)}.parquet",
        split_times=lambda w: split_time_file(report_settings()["probe_space"]),
        replicates=lambda w: replicate_files([table_sweep(w.table)]),
    output:
        html=report(
            f"{RESULTS}/tables/{{table}}.html",
            caption="../report/captions/sweep_table.rst",
            category=REPORT_CATEGORIES["tables"],
            labels={"table": "{table}"},
        ),
        md=f"{RESULTS}/tables/{{table}}.md",
        parquet=f"{RESULTS}/tables/{{table}}.parquet",
        tex=f"{RESULTS}/tables/{{table}}.tex",
        plot=report(
            f"{RESULTS}/figures/{{table}}_fid.png",
            caption="../report/captions/sweep_fid.rst",
            category=REPORT_CATEGORIES["tables"],
            labels={"table": "{table}: FID vs setting"},
        ),
        plot_pdf=f"{RESULTS}/figures/{{table}}_fid.pdf",
    log:
        f"{RESULTS}/logs/report_sweep_table/{{table}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_sweep_table/{{table}}.tsv"
    wildcard_constraints:
        table="|".join(sweep_tables()),
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda w: report_params("probe_space", "stage_swap_taus"),
    script:
        "../workflow_scripts/report_sweep_table.py"


# Per sweep, the first samples of every setting (seed 0), one row per setting: what a
# researcher looks at first. Reads only that sweep's sample files, no metric.


rule report_sweep_grid:
    input:
        samples=lambda w: sweep_grid_samples(table_sweep(w.table)),
    output:
        grid=f"{RESULTS}/figures/{{table}}_samples_grid.png",
        figure=report(
            f"{RESULTS}/figures/{{table}}_samples.png",
            caption="../report/captions/sweep_samples.rst",
            category=REPORT_CATEGORIES["tables"],
            labels={"table": "{table}: samples per setting"},
        ),
        pdf=f"{RESULTS}/figures/{{table}}_samples.pdf",
    log:
        f"{RESULTS}/logs/report_sweep_grid/{{table}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_sweep_grid/{{table}}.tsv"
    wildcard_constraints:
        table="|".join(sweep_tables()),
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda w: list(sweep_settings(table_sweep(w.table))),
    script:
        "../workflow_scripts/report_sweep_grid.py"


rule report_split_table:
    input:
        SPLIT_TIMES,
    output:
        html=report(
            f"{RESULTS}/tables/split_times.html",
            caption="../report/captions/split_times.rst",
            category=REPORT_CATEGORIES["oracle"],
            labels={"item": "split-time table"},
        ),
        md=f"{RESULTS}/tables/split_times.md",
        parquet=f"{RESULTS}/tables/split_times.parquet",
    log:
        f"{RESULTS}/logs/report_split_table.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_split_table.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow_scripts/report_split_table.py"


# One rule per paper figure (Fig. 2-7, 9 and the training curves), each with only the
# inputs and settings that figure reads, so `snakemake fig5` runs only what Fig. 5 needs
# and a change reruns only the figures it touches (navref.report.build.build_figure).


rule report_fig2:
    input:
        objective=f"{RESULTS}/oracle/objective.parquet",
        split_times=SPLIT_TIMES,
    output:
        fig2=figure("fig2_objective", "fig2_objective", "oracle"),
        pdf=figure_pdfs("fig2_objective"),
    log:
        f"{RESULTS}/logs/report_fig2.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_fig2.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        figure="fig2",
        settings={},
    script:
        "../workflow_scripts/report_figure.py"


rule report_fig3:
    input:
        synthetic=f"{RESULTS}/oracle/synthetic.parquet",
        split_times=SPLIT_TIMES,
    output:
        fig3=figure("fig3_synthetic", "fig3_synthetic", "oracle"),
        pdf=figure_pdfs("fig3_synthetic"),
    log:
        f"{RESULTS}/logs/report_fig3.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_fig3.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        figure="fig3",
        settings={},
    script:
        "../workflow_scripts/report_figure.py"


rule report_fig4:
    input:
        **probe_figure_inputs("fig4"),
    output:
        fig4_grid=figure(
            "fig4_intermediate_grid",
            "fig4_intermediate_grid",
            "probes",
            SUB_INTERMEDIATE,
        ),
        fig4_curve=figure(
            "fig4_settledness", "fig4_settledness", "probes", SUB_INTERMEDIATE
        ),
        pdf=figure_pdfs("fig4_intermediate_grid", "fig4_settledness"),
    log:
        f"{RESULTS}/logs/report_fig4.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_fig4.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        figure="fig4",
        settings=lambda w: figure_params("fig4"),
    script:
        "../workflow_scripts/report_figure.py"


rule report_fig5:
    input:
        **probe_figure_inputs("fig5"),
    output:
        **{
            f"fig5_grid_{m}": figure(
                f"fig5_mixed_grid_{m}", "fig5_mixed_grid", "probes", SUB_MIXED
            )
            for m in probe_models("mixed")
        },
        fig5=figure("fig5_mixed", "fig5_mixed", "probes", SUB_MIXED),
        pdf=figure_pdfs(
            "fig5_mixed", *[f"fig5_mixed_grid_{m}" for m in probe_models("mixed")]
        ),
    log:
        f"{RESULTS}/logs/report_fig5.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_fig5.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        figure="fig5",
        settings=lambda w: figure_params("fig5"),
    script:
        "../workflow_scripts/report_figure.py"


rule report_fig6:
    input:
        **probe_figure_inputs("fig6"),
    output:
        **{
            f"fig6_grid_{m}": figure(
                f"fig6_unseen_grid_{m}", "fig6_unseen_grid", "probes", SUB_UNSEEN
            )
            for m in probe_models("unseen")
        },
        fig6=figure("fig6_unseen", "fig6_unseen", "probes", SUB_UNSEEN),
        pdf=figure_pdfs(
            "fig6_unseen", *[f"fig6_unseen_grid_{m}" for m in probe_models("unseen")]
        ),
    log:
        f"{RESULTS}/logs/report_fig6.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_fig6.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        figure="fig6",
        settings=lambda w: figure_params("fig6"),
    script:
        "../workflow_scripts/report_figure.py"


rule report_fig7:
    input:
        loss_curves=f"{RESULTS}/probes/loss_curves.parquet",
        split_times=lambda w: split_time_file(report_settings()["probe_space"]),
    output:
        fig7a=figure("fig7a_losses", "fig7a_losses", "losses"),
        fig7b=figure("fig7b_sizes", "fig7b_sizes", "losses"),
        pdf=figure_pdfs("fig7a_losses", "fig7b_sizes"),
    log:
        f"{RESULTS}/logs/report_fig7.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_fig7.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        figure="fig7",
        settings=lambda w: figure_params("fig7"),
    script:
        "../workflow_scripts/report_figure.py"


rule report_fig9:
    input:
        loss_curves=f"{RESULTS}/probes/loss_curves.parquet",
        split_times=lambda w: space_split_files(fig9_models()),
    output:
        fig9=figure("fig9_spaces", "fig9_spaces", "losses"),
        pdf=figure_pdfs("fig9_spaces"),
    log:
        f"{RESULTS}/logs/report_fig9.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_fig9.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        figure="fig9",
        settings=lambda w: figure_params("fig9"),
    script:
        "../workflow_scripts/report_figure.py"


rule report_training:
    input:
        train_logs=f"{RESULTS}/training/train_logs.parquet",
    output:
        training=figure("training_curves", "training_curves", "training"),
        pdf=figure_pdfs("training_curves"),
    log:
        f"{RESULTS}/logs/report_training.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_training.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        figure="training",
        settings=lambda w: figure_params("training"),
    script:
        "../workflow_scripts/report_figure.py"


rule report_claims:
    input:
        unpack(claim_tables),
        split_times=f"{RESULTS}/oracle/split_times.parquet",
        synthetic=f"{RESULTS}/oracle/synthetic.parquet",
        objective=f"{RESULTS}/oracle/objective.parquet",
        loss_curves=f"{RESULTS}/probes/loss_curves.parquet",
        intermediate=f"{RESULTS}/probes/intermediate.parquet",
        mixed=f"{RESULTS}/probes/mixed.parquet",
        unseen=f"{RESULTS}/probes/unseen.parquet",
        sweeps=f"{RESULTS}/metrics/sweeps.parquet",
        replicates=lambda w: replicate_files(),
    output:
        md=f"{RESULTS}/claims.md",
        parquet=f"{RESULTS}/claims.parquet",
    log:
        f"{RESULTS}/logs/report_claims.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_claims.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda w: report_params("probe_space", "semantic_space", "other_space"),
    script:
        "../workflow_scripts/report_claims.py"


rule report_claims_html:
    input:
        f"{RESULTS}/claims.parquet",
    output:
        report(
            f"{RESULTS}/claims.html",
            caption="../report/captions/claims.rst",
            category=REPORT_CATEGORIES["claims"],
            labels={"check": "claims"},
        ),
    log:
        f"{RESULTS}/logs/report_claims_html.log",
    benchmark:
        f"{RESULTS}/benchmarks/report_claims_html.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/report_claims_html.py"


# After every other output: the machine, libraries, threads, code and config digest of the
# run, and the job records of its logs by machine (navref.provenance). Reruns whenever any
# output it follows was rebuilt.


rule provenance:
    input:
        lambda w: all_targets(),
    output:
        json=f"{RESULTS}/provenance.json",
        html=report(
            f"{RESULTS}/provenance.html",
            category=REPORT_CATEGORIES["run"],
            labels={"record": "provenance"},
        ),
    log:
        f"{RESULTS}/logs/provenance.log",
    benchmark:
        f"{RESULTS}/benchmarks/provenance.tsv"
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        log_dir=f"{RESULTS}/logs",
    script:
        "../workflow_scripts/provenance.py"
