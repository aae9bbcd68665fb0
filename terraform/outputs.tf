# What to run next, and the values argocd/bootstrap.py writes into argocd/ (see argocd/README.md).

output "configure_kubectl" {
  description = "Point kubectl (and the argo CLI) at the new cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "argocd_ui" {
  description = "Argo CD UI on https://localhost:8080 (user admin; the password command is in the second line)."
  value = join("\n", [
    "kubectl -n argocd port-forward svc/argocd-server 8080:443",
    "kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d",
  ])
}

output "argo_workflows_ui" {
  description = "Argo Workflows UI on https://localhost:2746 (client auth: paste the output of `argo auth token`)."
  value       = "kubectl -n argo port-forward svc/argo-server 2746:2746"
}

output "first_workflow" {
  description = "Submit the cluster check, then the whole lifecycle, once Argo CD has synced workflows/."
  value = join("\n", [
    "argo -n fmops submit --from workflowtemplate/fmops-validate-cluster --watch",
    "argo -n fmops submit --from workflowtemplate/fmops-pipeline --watch",
  ])
}

output "bucket" {
  description = "S3 bucket for data, checkpoints, models and Argo artifacts."
  value       = aws_s3_bucket.fmops.id
}

output "ecr_registry" {
  description = "ECR registry host the images are pushed to."
  value       = local.ecr_registry
}

output "ecr_repositories" {
  description = "Repository URL per image."
  value       = { for name, repo in aws_ecr_repository.images : name => repo.repository_url }
}

output "github_ci_role_arn" {
  description = "Role for the AWS_ROLE_ARN variable of the fork's GitHub Actions (empty without github_repository)."
  value       = one(aws_iam_role.github_ci[*].arn)
}

output "pod_identity_role_arns" {
  description = "IAM role per Kubernetes service account (EKS Pod Identity)."
  value       = { for k, role in aws_iam_role.pod : k => role.arn }
}

output "workflows_images" {
  description = "kustomize image overrides of the workflows Application (argocd/apps/workflows.yaml)."
  value = [for name in var.ecr_repositories :
  "ghcr.io/fmops/${name}=${local.ecr_registry}/${name}:${var.image_tag}"]
}

output "workflows_settings" {
  description = "Values of the fmops-settings ConfigMap patched by the workflows Application."
  value       = local.workflows_settings
}

locals {
  workflows_settings = {
    "storage-root" = "s3://${aws_s3_bucket.fmops.id}/fmops"
    "data-root"    = "s3://${aws_s3_bucket.fmops.id}/data"
    "model-name"   = var.model_name
  }
}

output "argocd_bootstrap" {
  description = "Placeholder -> value for argocd/bootstrap.py: `terraform output -json | python3 ../argocd/bootstrap.py -`."
  value = {
    FMOPS_REPO_URL             = var.repo_url
    FMOPS_GIT_REVISION         = var.git_revision
    FMOPS_CLUSTER_NAME         = module.eks.cluster_name
    FMOPS_REGION               = var.region
    FMOPS_KARPENTER_NODE_ROLE  = module.karpenter.node_iam_role_name
    FMOPS_GPU_TRAIN_NODE_CLASS = local.gpu_train_node_class
    # The group's name whether or not it exists: the gpu-train EC2NodeClass is used only when it does.
    FMOPS_TRAINING_PLACEMENT_GROUP = "${var.cluster_name}-gpu-train"
    FMOPS_BUCKET                   = aws_s3_bucket.fmops.id
    FMOPS_ECR_REGISTRY             = local.ecr_registry
    FMOPS_IMAGE_TAG                = var.image_tag
    FMOPS_STORAGE_ROOT             = local.workflows_settings["storage-root"]
    FMOPS_DATA_ROOT                = local.workflows_settings["data-root"]
    FMOPS_MODEL_NAME               = var.model_name
  }
}
