# Generated secrets go straight into Kubernetes Secrets (never into Git). They are also in the
# Terraform state, which is why the state bucket must be encrypted and access-controlled. Teams on
# AWS Secrets Manager replace these with External Secrets (argocd/README.md). The Hugging Face token
# is yours to add: `kubectl -n fmops create secret generic hf-token --from-literal=token=...`.
# Namespaces that hold these Secrets, with the PodSecurity level their pods need: monitoring runs
# node-exporter (hostNetwork, hostPID, hostPath), so it is privileged; fmops runs only fmops' own pods
# (workflow steps, training replicas, vLLM, endpoint pickers), which all pass restricted
# (tests/infra/test_pod_security.py). The
# namespaces Argo CD creates get their levels from managedNamespaceMetadata in argocd/apps/.
locals {
  namespace_pod_security = {
    fmops      = "restricted"
    monitoring = "privileged"
  }
}

resource "kubernetes_namespace_v1" "platform" {
  for_each = local.namespace_pod_security

  metadata {
    name = each.key
    labels = {
      "pod-security.kubernetes.io/enforce" = each.value
      "pod-security.kubernetes.io/warn"    = "restricted"
      "pod-security.kubernetes.io/audit"   = "restricted"
    }
  }

  depends_on = [module.eks]
}

resource "random_password" "grafana_admin" {
  length  = 32
  special = false
}

resource "random_password" "serving_api_key" {
  length  = 48
  special = false
}

resource "kubernetes_secret_v1" "grafana_admin" {
  metadata {
    name      = "grafana-admin"
    namespace = kubernetes_namespace_v1.platform["monitoring"].metadata[0].name
  }
  data = {
    "admin-user"     = "admin"
    "admin-password" = random_password.grafana_admin.result
  }
}

resource "kubernetes_secret_v1" "serving_api_key" {
  metadata {
    name      = "fmops-serving-api-key"
    namespace = kubernetes_namespace_v1.platform["fmops"].metadata[0].name
  }
  data = {
    "api-key" = random_password.serving_api_key.result
  }
}
