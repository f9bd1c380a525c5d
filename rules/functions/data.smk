# Input, param and target functions of the rules in rules/data.smk.


def encode_inputs(wildcards):
    """The prepared dataset and, for a pipeline VAE, its weights."""
    space = config["latent_spaces"][wildcards.space]
    inputs = dataset_files(space["dataset"])
    if space.get("vae"):
        inputs["vae"] = f"{RESULTS}/vae/{space['vae']}/config.json"
    return inputs
