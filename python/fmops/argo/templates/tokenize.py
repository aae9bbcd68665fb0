"""WorkflowTemplate `fmops-tokenize`: a corpus into binary token shards that pretraining streams from storage.

    argo submit -n fmops --from workflowtemplate/fmops-tokenize \
        -p model=s3://bucket/fmops/models/demo/latest -p data=s3://bucket/data/new/ -p output=s3://bucket/tokens/new

Once per corpus, on a large CPU node, for corpora that do not fit in a training pod's memory: fixed-size
shards with their byte lengths and sha256. The pipeline and continuous pretraining run it with -p tokenize=true.
"""

from hera.workflows import WorkflowTemplate

from fmops.argo.templates import common
from fmops.argo.templates.common import DAY, TRAIN_IMAGE, param

PARAMS = [
    param("model", "model whose tokenizer to use: hub id, model directory URI, registry pointer, or 'tiny'"),
    param("data", "one or more URIs (comma-separated) of JSONL {text}, .txt or parquet"),
    param("output", "URI of the token dataset (tokens-NNNNN.bin, documents.bin, index.json, manifest.json)"),
]

with WorkflowTemplate(
    name="fmops-tokenize",
    entrypoint="tokenize",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: tokenize",
        "Tokenize a corpus once into token shards that pretraining reads by range.",
        deadline=DAY,
    ),
) as workflow:
    common.cpu_container(
        "tokenize",
        common.command_line(
            "tokenize",
            {
                "--model": "{{inputs.parameters.model}}",
                "--data": "{{inputs.parameters.data}}",
                "--output": "{{inputs.parameters.output}}",
            },
        ),
        image=TRAIN_IMAGE,
        deadline=DAY,
        cpu=16,
        memory_gib=32,
        inputs=PARAMS,
        env=[common.HF_TOKEN_ENV],
        retry_strategy=common.retry_strategy(),
    )
