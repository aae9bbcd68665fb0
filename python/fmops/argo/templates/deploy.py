"""WorkflowTemplate `fmops-deploy`: publish a model version, roll it out behind vLLM, smoke-test, promote.

    argo submit -n fmops --from workflowtemplate/fmops-deploy \
        -p model=s3://bucket/runs/r1/dpo -p name=demo -p registry=s3://bucket/fmops
    fmops run fmops-deploy -p model=runs/dpo -p target=local -p registry=registry -p serving-engine=vllm

The `production` pointer moves only after the smoke test passes; a failed rollout rolls back.
"""

from hera.workflows import Artifact, SecretEnv, WorkflowTemplate

from fmops.argo.templates import common
from fmops.argo.templates.common import HOUR, RESULTS_DIR, param, result

# The smoke test authenticates with the key vLLM is started with.
API_KEY_ENV = SecretEnv(name="FMOPS_API_KEY", secret_name="fmops-serving-api-key", secret_key="api-key", optional=True)

PARAMS = [
    param("model", "the model to deploy: a complete fmops output URI"),
    param("name", "model name: registry entry and Kubernetes resource names", "demo"),
    param(
        "target",
        "where to serve: the cluster (vLLM) or the local machine (fmops serve; engine: serving-engine)",
        "cluster",
        enum=["cluster", "local"],
    ),
    param("registry", "registry root URI (versions under <registry>/models/<name>/)"),
    param("evaluation", "the model's evaluation output, kept with the version for later gates ('' for none)", ""),
    param(
        "serving-engine",
        "the local target's engine: transformers, vllm (from its own environment, created on first use) or auto "
        "(vllm where its environment exists); the cluster always serves with vLLM",
        "transformers",
        enum=["transformers", "vllm", "auto"],
    ),
]

with WorkflowTemplate(
    name="fmops-deploy",
    entrypoint="deploy",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: deploy",
        "Roll out a model behind vLLM's OpenAI-compatible server, smoke-test it, then promote it.",
        deadline=2 * HOUR,
    ),
) as workflow:
    common.cpu_container(
        "deploy",
        common.command_line(
            "deploy",
            {
                "--model": "{{inputs.parameters.model}}",
                "--name": "{{inputs.parameters.name}}",
                "--target": "{{inputs.parameters.target}}",
                "--registry": "{{inputs.parameters.registry}}",
                "--evaluation": "{{inputs.parameters.evaluation}}",
                "--engine": "{{inputs.parameters.serving-engine}}",
                "--results-dir": RESULTS_DIR,
            },
        ),
        inputs=PARAMS,
        outputs=[
            result("endpoint", "endpoint"),
            result("metrics", "metrics.json"),
            Artifact(name="deployment", path=f"{RESULTS_DIR}/deploy.json", optional=True),
            Artifact(name="manifests", path=f"{RESULTS_DIR}/manifests.yaml", optional=True),
        ],
        env=[API_KEY_ENV],
        deadline=HOUR,
        **common.kubernetes_api(common.DEPLOY_ACCOUNT),
    )
