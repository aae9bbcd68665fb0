# Terraform installs Argo CD and nothing else in-cluster from Git: two AppProjects and the root
# Application, read from the plain YAML in argocd/ (only the repository URL and revision are set
# here). From then on Argo CD owns every add-on, the NodePools and the WorkflowTemplates.
locals {
  argocd_dir = "${path.module}/../argocd"

  root_doc = yamldecode(file("${local.argocd_dir}/root.yaml"))
  root_app = merge(local.root_doc.spec, {
    namespace  = local.root_doc.metadata.namespace
    finalizers = try(local.root_doc.metadata.finalizers, [])
    source = merge(local.root_doc.spec.source, {
      repoURL        = var.repo_url
      targetRevision = var.git_revision
    })
  })

  project_docs = [for f in sort(fileset("${local.argocd_dir}/projects", "*.yaml")) : yamldecode(file("${local.argocd_dir}/projects/${f}"))]
  projects = {
    for p in local.project_docs : p.metadata.name => merge(p.spec, {
      namespace   = p.metadata.namespace
      sourceRepos = [for r in p.spec.sourceRepos : r == "FMOPS_REPO_URL" ? var.repo_url : r]
    })
  }
}

resource "helm_release" "argocd" {
  name             = "argo-cd"
  namespace        = "argocd"
  create_namespace = true
  repository       = "https://argoproj.github.io/argo-helm"
  chart            = "argo-cd"
  version          = "9.4.10"
  wait             = true

  values = [file("${path.module}/helm-values/argo-cd.yaml")]

  depends_on = [helm_release.karpenter]
}

resource "helm_release" "argocd_root" {
  name       = "argocd-root"
  namespace  = "argocd"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argocd-apps"
  version    = "2.0.2"

  values = [yamlencode({
    projects     = local.projects
    applications = { (local.root_doc.metadata.name) = local.root_app }
  })]

  depends_on = [helm_release.argocd, kubernetes_namespace_v1.platform]
}
