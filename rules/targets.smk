# Named targets, one per paper artefact: `snakemake table3` (or `make table3`) runs only the
# jobs that artefact needs. The files behind each name: rules/functions/targets.smk.


include: "functions/targets.smk"


rule table1:
    input:
        lambda w: named_target("table1"),


rule table2:
    input:
        lambda w: named_target("table2"),


rule table3:
    input:
        lambda w: named_target("table3"),


rule split_times:
    input:
        lambda w: named_target("split_times"),


rule fig2:
    input:
        lambda w: named_target("fig2"),


rule fig3:
    input:
        lambda w: named_target("fig3"),


rule fig4:
    input:
        lambda w: named_target("fig4"),


rule fig5:
    input:
        lambda w: named_target("fig5"),


rule fig6:
    input:
        lambda w: named_target("fig6"),


rule fig7:
    input:
        lambda w: named_target("fig7"),


rule fig8:
    input:
        lambda w: named_target("fig8"),


rule fig9:
    input:
        lambda w: named_target("fig9"),


rule training:
    input:
        lambda w: named_target("training"),


rule claims:
    input:
        lambda w: named_target("claims"),
