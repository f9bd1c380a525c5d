# The files behind each named target of rules/targets.smk (one per paper artefact).


def figure_files(*names):
    return [f"{RESULTS}/figures/{name}.png" for name in names]


def table_files(table):
    """Table ``table`` (HTML, with its FID plot beside it: one job) and its sample grid."""
    return [
        f"{RESULTS}/tables/{table}.html",
        *figure_files(f"{table}_fid", f"{table}_samples"),
    ]


def named_targets():
    """{target name: the files it asks for}; each pulls only the jobs those files need
    (e.g. table3: the CFG-interval sweep's sampling and metric jobs, nothing else)."""
    tables = {t: table_files(t) for t in configured_tables()}
    probe_figs = {
        "fig4": figure_files("fig4_intermediate_grid", "fig4_settledness"),
        "fig5": figure_files(
            "fig5_mixed", *[f"fig5_mixed_grid_{m}" for m in probe_models("mixed")]
        ),
        "fig6": figure_files(
            "fig6_unseen", *[f"fig6_unseen_grid_{m}" for m in probe_models("unseen")]
        ),
        "fig7": figure_files("fig7a_losses", "fig7b_sizes"),
        "fig8": [
            f"{RESULTS}/probes/intermediate/{m}.png"
            for m in probe_models("intermediate")
        ],
        "fig9": figure_files("fig9_spaces"),
        "training": figure_files("training_curves"),
    }
    for fig, probe in FIGURE_PROBE.items():  # a probe run on no model: no figure
        if not probe_models(probe):
            probe_figs[fig] = []
    return {
        **tables,
        "split_times": [f"{RESULTS}/tables/split_times.html"],
        "fig2": figure_files("fig2_objective"),
        "fig3": figure_files("fig3_synthetic"),
        **(probe_figs if MODELS else {}),
        "claims": [f"{RESULTS}/claims.html"] if MODELS and sweep_metric_files() else [],
    }


def named_target(name):
    """The files of target ``name``; a target this config cannot make is an error naming
    why (e.g. table1 without a stage-swap sweep)."""
    files = named_targets().get(name)
    if not files:
        raise ValueError(
            f"target {name!r} is not made by this config (no models or sweeps for it); "
            f"targets it makes: {sorted(k for k, v in named_targets().items() if v)}"
        )
    return files


#: the named targets that are figures (all_targets asks for each one this config makes)
FIGURE_TARGETS = [
    "fig2",
    "fig3",
    "fig4",
    "fig5",
    "fig6",
    "fig7",
    "fig8",
    "fig9",
    "training",
]


def figure_targets():
    """The files of every figure target this config makes (Fig. 2-9, training curves) and
    the sample grid of every sweep (report_sweep_grid)."""
    targets = named_targets()
    sweep_grids = figure_files(*[f"{t}_samples" for t in configured_tables()])
    return [f for name in FIGURE_TARGETS for f in targets.get(name, [])] + sweep_grids
