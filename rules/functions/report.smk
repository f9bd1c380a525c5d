# Input, param and target functions of the rules in rules/report.smk.


from navref.report import selection


def cfm_models(models):
    """Of ``models``, those trained on the CFM target x1 - x0 (released ones are), as
    {name: config entry}."""
    meta = model_meta()
    return {m: config["models"][m] for m in models if meta[m]["target"] == "cfm"}


def largest_model(models):
    """The model of ``models`` with the most transformer-block parameters
    (navref.report.selection.block_params; ties: the config's order), preferring models
    trained on the CFM target (Fig. 7a compares the CFM and oracle losses of such a model);
    None for no models."""
    return selection.largest_model(
        cfm_models(models) or {m: config["models"][m] for m in models}
    )


def report_settings():
    """The report's config slice, with defaults derived from the models: the probe space is
    that of the first probed model, the Fig. 7a model the largest (by parameter count)
    CFM-trained probed model of that space (the paper shows its largest), Fig. 9 compares
    that model's size across spaces (each space's largest where it lacks that size)."""
    settings = dict(conf("report"))
    probed = probe_models("loss_curves")
    if settings.get("model"):
        settings.setdefault("probe_space", model_space(settings["model"]))
    if probed:
        settings.setdefault("probe_space", model_space(probed[0]))
        in_space = [m for m in probed if model_space(m) == settings["probe_space"]]
        settings.setdefault("model", largest_model(in_space or probed))
    settings.setdefault("model", None)
    if settings["model"]:
        settings.setdefault(
            "space_size", model_size(config["models"][settings["model"]])
        )
    settings["stage_swap_taus"] = [
        str(t) for t in conf("sweeps", "stage_swap").get("taus", [])
    ]
    return settings


def report_params(*keys):
    """Only the report settings a rule reads, so e.g. a new probe tau does not redo the tables."""
    settings = report_settings()
    return {k: settings[k] for k in keys if k in settings}


#: what the report's list calls each figure (short: the list is the report's left pane and
#: as wide as its longest entry; file paths there left a 1000 px window a third for figures)
FIGURE_LABELS = {
    "fig2_objective": "Fig. 2: objective gap, top-1 weight",
    "fig3_synthetic": "Fig. 3: synthetic Gaussians",
    "fig4_intermediate_grid": "Fig. 4: intermediate predictions",
    "fig4_settledness": "Fig. 4: settledness",
    "fig5_mixed": "Fig. 5: memorization vs τ",
    "fig5_mixed_grid": "Fig. 5: samples",
    "fig6_unseen": "Fig. 6: distances, shares vs τ",
    "fig6_unseen_grid": "Fig. 6: samples",
    "fig7a_losses": "Fig. 7a: CFM and oracle loss",
    "fig7b_sizes": "Fig. 7b: sizes, training length",
    "fig9_spaces": "Fig. 9: latent spaces",
    "training_curves": "training loss, gradient norm",
}


def figure(name, caption, category, subcategory=None):
    """A report figure: PNG for the report, PDF beside it; ``category`` a key of
    ``REPORT_CATEGORIES``; labelled ``FIGURE_LABELS[caption]`` (and the model, for a
    per-model figure ``<caption>_<model>``)."""
    labels = {"item": FIGURE_LABELS[caption]}
    if name != caption:
        labels["model"] = name[len(caption) + 1 :]
    return report(
        f"{RESULTS}/figures/{name}.png",
        caption=f"../report/captions/{caption}.rst",
        category=REPORT_CATEGORIES[category],
        subcategory=subcategory,
        labels=labels,
    )


def figure_pdfs(*names):
    """The PDFs beside a figure rule's PNGs."""
    return [f"{RESULTS}/figures/{name}.pdf" for name in names]


# ------------------------------------------------ a rule per paper figure (inputs, params)

#: the probe behind each probe figure
FIGURE_PROBE = {"fig4": "intermediate", "fig5": "mixed", "fig6": "unseen"}


def space_split_files(spaces):
    """The split-time files of ``spaces`` (each space's own, rule oracle_split_time)."""
    return sorted({split_time_file(s) for s in spaces})


def probe_figure_models(fig):
    """{model: latent space} of the models probed for figure ``fig`` (fig4, fig5, fig6)."""
    return {m: model_space(m) for m in probe_models(FIGURE_PROBE[fig])}


def probe_figure_grids(fig):
    """The probe's image grids a figure composes: {model: png} for Fig. 4, {model: {tau
    spec: png}} for Fig. 5 / 6."""
    probe = FIGURE_PROBE[fig]
    if probe == "intermediate":
        return {
            m: f"{RESULTS}/probes/intermediate/{m}.png" for m in probe_models(probe)
        }
    return {
        m: {
            str(t): f"{RESULTS}/probes/{probe}/{m}/tau{t}.png"
            for t in probe_conf(probe)["taus"]
        }
        for m in probe_models(probe)
    }


def probe_figure_inputs(fig):
    """Inputs of the Fig. 4-6 rule report_<fig>; the probe's table, its image grids and
    the split times of its models' spaces; nothing of another probe."""
    grids = probe_figure_grids(fig)
    paths = [
        p for g in grids.values() for p in (g.values() if isinstance(g, dict) else [g])
    ]
    return {
        FIGURE_PROBE[fig]: f"{RESULTS}/probes/{FIGURE_PROBE[fig]}.parquet",
        "grids": paths,
        "split_times": space_split_files(probe_figure_models(fig).values()),
    }


def fig9_models():
    """{latent space: models} compared in Fig. 9: every space with a CFM-trained probed
    model, its models of the report's ``space_size`` or else its largest
    (navref.report.selection.space_models)."""
    probed = cfm_models(probe_models("loss_curves"))
    return selection.space_models(probed, report_settings().get("space_size"))


def figure_params(fig):
    """Only the settings figure ``fig`` reads (navref.report.build.build_figure), so e.g. a
    new tau of the mixed probe does not redo Fig. 4, 6, 7 or 9."""
    if fig in FIGURE_PROBE:
        return {"spaces": probe_figure_models(fig), "grids": probe_figure_grids(fig)}
    if fig == "fig7":
        settings = report_settings()
        return {"model": settings["model"], "space": settings["probe_space"]}
    if fig == "fig9":
        return {"models": fig9_models()}
    if fig == "training":
        return {"window": 10}
    return {}


def sweep_tables():
    """The table names of the sweeps (table1, table2, table3; navref.sweeps.plan)."""
    return sweep_table_names()


def table_sweep(table):
    """The sweep kind whose table is ``table`` (navref.sweeps.plan.by_table)."""
    return sweep_of_table(table).kind


def configured_tables():
    """The tables of the sweeps this config runs."""
    return [get_sweep(k, {}).table_name for k in SWEEP_KINDS if sweep_settings(k)]


def claim_tables(wildcards):
    """Rule report_claims: the tables of the sweeps this config runs, by name (``table3``:
    its Parquet file); an unconfigured sweep's claims read no table and are inconclusive
    (inputs missing)."""
    return {t: f"{RESULTS}/tables/{t}.parquet" for t in configured_tables()}


def sweep_grid_samples(kind):
    """The sample file of the first configured seed of every setting of sweep ``kind``, in
    the config's setting order (one grid row per setting in report_sweep_grid)."""
    seed = conf("sweeps", "seeds")[0]
    return [sample_file(kind, setting, seed) for setting in sweep_settings(kind)]
