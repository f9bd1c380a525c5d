# Input, param and target functions of the rules in rules/report.smk.


from navref.report.tables import SIZE_ORDER


def largest_model(models):
    """The model of ``models`` with the largest DiT size (``SIZE_ORDER``; the first of
    equal sizes, so the config's order breaks ties); None for no models."""
    rank = {size: i for i, size in enumerate(SIZE_ORDER)}
    sizes = [rank.get(model_size(config["models"][m]), -1) for m in models]
    return models[sizes.index(max(sizes))] if models else None


def report_settings():
    """The report's config slice, with defaults derived from the models and probes: the
    probe space is that of the first probed model, the Fig. 7a model the largest probed
    model of that space (the paper shows its largest), Fig. 9 compares that model's size.
    """
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
    settings["intermediate_grids"] = {
        m: f"{RESULTS}/probes/intermediate/{m}.png"
        for m in probe_models("intermediate")
    }
    settings["mixed_grids"] = {
        m: {
            str(t): f"{RESULTS}/probes/mixed/{m}/tau{t}.png"
            for t in probe_conf("mixed")["taus"]
        }
        for m in probe_models("mixed")
    }
    return settings


def report_params(*keys):
    """Only the report settings a rule reads, so e.g. a new probe tau does not redo the tables."""
    settings = report_settings()
    return {k: settings[k] for k in keys if k in settings}


def figure(name, caption, category, subcategory=None):
    """A report figure: PNG for the report, PDF beside it; ``category`` a key of
    ``REPORT_CATEGORIES``."""
    return report(
        f"{RESULTS}/figures/{name}.png",
        caption=f"../report/captions/{caption}.rst",
        category=REPORT_CATEGORIES[category],
        subcategory=subcategory,
    )


def sweep_tables():
    """The table names of the sweeps (table1, table2, table3)."""
    return [get_sweep(k, {}).table_name for k in SWEEP_KINDS]


def table_sweep(table):
    """The sweep kind whose table is ``table`` (navref.sweeps names each sweep's table)."""
    return {get_sweep(k, {}).table_name: k for k in SWEEP_KINDS}[table]


def configured_tables():
    """The tables of the sweeps this config runs."""
    return [get_sweep(k, {}).table_name for k in SWEEP_KINDS if sweep_settings(k)]


def probe_split_files():
    """The split-time files of the probed models' spaces (Fig. 4-9 mark their splits)."""
    spaces = {model_space(m) for k in PROBE_KINDS for m in probe_models(k)}
    if report_settings().get("probe_space"):
        spaces.add(report_settings()["probe_space"])
    return sorted({split_time_file(s) for s in spaces})
