# Input, param and target functions of the rules in rules/data.smk.


def vae_inputs(wildcards):
    """Rule train_vae: the prepared dataset and, for a VAE with an ``align`` block, the
    feature net of its dataset (rule train_feature_net) whose features its latents align to.
    """
    vae = config["vaes"][wildcards.vae]
    inputs = dataset_files(vae["dataset"])
    if "align" in vae:
        inputs["feature_net"] = evaluation_file(
            vae["dataset"], "feature_net.safetensors"
        )
    return inputs


def encode_inputs(wildcards):
    """The prepared dataset and, for a pipeline VAE, its weights."""
    space = config["latent_spaces"][wildcards.space]
    inputs = dataset_files(space["dataset"])
    if space.get("vae"):
        inputs["vae"] = f"{RESULTS}/vae/{space['vae']}/config.json"
    elif wildcards.space in CONVERTED_SPACES:
        inputs["vae"] = converted_vae_file(wildcards.space)
    return inputs


# latent spaces whose `pretrained` VAE is an LDM checkpoint file, converted by rule convert_vae
CONVERTED_SPACES = [
    s
    for s, space in config["latent_spaces"].items()
    if space.get("pretrained") and is_ldm_checkpoint(space["pretrained"])
]


def converted_vae_file(space, name="config.json"):
    """A file of the diffusers conversion of space ``space``'s LDM VAE checkpoint."""
    return f"{RESULTS}/vae_converted/{space}/{name}"
