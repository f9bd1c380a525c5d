# Dataset preparation, VAE training and latent encoding.


include: "functions/data.smk"


rule prepare_dataset:
    output:
        **dataset_files("{dataset}"),
    log:
        f"{RESULTS}/logs/prepare_dataset/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/prepare_dataset/{{dataset}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("prepare_dataset")
    resources:
        **rule_resources("prepare_dataset", mem_mb=4000, runtime=60),
    params:
        settings=lambda w: config["datasets"][w.dataset],
        inputs=lambda w: input_stamps(f"datasets.{w.dataset}"),
    script:
        "../workflow_scripts/prepare_dataset.py"


rule train_vae:
    input:
        unpack(vae_inputs),
    output:
        config=f"{RESULTS}/vae/{{vae}}/config.json",
        weights=f"{RESULTS}/vae/{{vae}}/diffusion_pytorch_model.safetensors",
        log_table=f"{RESULTS}/vae/{{vae}}/train_log.parquet",
        metrics=f"{RESULTS}/vae/{{vae}}/metrics.json",
    log:
        f"{RESULTS}/logs/train_vae/{{vae}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_vae/{{vae}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("train_vae")
    resources:
        **rule_resources("train_vae", mem_mb=4000, runtime=60),
    params:
        settings=lambda w: config["vaes"][w.vae],
        device=DEVICE,
    script:
        "../workflow_scripts/train_vae.py"


rule convert_vae:
    output:
        config=converted_vae_file("{space}"),
        weights=converted_vae_file("{space}", "diffusion_pytorch_model.safetensors"),
    log:
        f"{RESULTS}/logs/convert_vae/{{space}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/convert_vae/{{space}}.tsv"
    wildcard_constraints:
        space="|".join(CONVERTED_SPACES) or "NONE",
    conda:
        "../envs/navref.yaml"
    threads: 1
    resources:
        **rule_resources("convert_vae", mem_mb=8000, runtime=30),
    params:
        checkpoint=lambda w: config["latent_spaces"][w.space]["pretrained"],
        inputs=lambda w: input_stamps(f"latent_spaces.{w.space}.pretrained"),
    script:
        "../workflow_scripts/convert_vae.py"


rule encode_latents:
    input:
        unpack(encode_inputs),
    output:
        latents=latent_file("{space}", "latents.npy"),
        meta=latent_file("{space}", "meta.parquet"),
        stats=latent_file("{space}", "stats.json"),
    log:
        f"{RESULTS}/logs/encode_latents/{{space}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/encode_latents/{{space}}.tsv"
    conda:
        "../envs/navref.yaml"
    threads: rule_threads("encode_latents")
    resources:
        **rule_resources("encode_latents", mem_mb=8000, runtime=120),
    params:
        settings=lambda w: config["latent_spaces"][w.space],
        inputs=lambda w: input_stamps(f"latent_spaces.{w.space}"),
        device=DEVICE,
        precision=PRECISION,
    script:
        "../workflow_scripts/encode_latents.py"
