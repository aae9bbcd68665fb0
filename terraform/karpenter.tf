# Karpenter: controller role (EKS Pod Identity), node role, the SQS interruption queue with its
# EventBridge rules (spot interruption, rebalance, scheduled maintenance), then the controller itself.
# NodePools and EC2NodeClasses are plain YAML synced by Argo CD (argocd/addons/karpenter/).
#
# Karpenter 1.14.1. The permissions it needs beyond 1.8 (ec2:DescribePlacementGroups and
# placement-group/* on RunInstances/CreateFleet from 1.11, ec2:DescribeInstanceStatus and
# arc-zonal-shift:GetManagedResource from 1.12) are in this module's controller policy from 21.19.0 on.
module "karpenter" {
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "21.29.0"
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact release (immutable); a commit hash would bypass the registry.

  cluster_name = module.eks.cluster_name

  namespace       = "kube-system"
  service_account = "karpenter"

  enable_spot_termination = true
  queue_name              = "${var.cluster_name}-karpenter"

  # A fixed name: the EC2NodeClasses in Git refer to it (argocd/bootstrap.py fills it in).
  node_iam_role_use_name_prefix = false
  node_iam_role_name            = "${var.cluster_name}-karpenter-node"
  node_iam_role_additional_policies = {
    AmazonSSMManagedInstanceCore = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
  }
}

# The CRDs from their own chart, so that upgrading Karpenter upgrades them too: Helm installs a chart's
# crds/ only on first install and never updates them.
resource "helm_release" "karpenter_crd" {
  name       = "karpenter-crd"
  namespace  = "kube-system"
  repository = "oci://public.ecr.aws/karpenter"
  chart      = "karpenter-crd"
  version    = local.karpenter_version
  wait       = true

  depends_on = [module.eks]
}

resource "helm_release" "karpenter" {
  name       = "karpenter"
  namespace  = "kube-system"
  repository = "oci://public.ecr.aws/karpenter"
  chart      = "karpenter"
  version    = local.karpenter_version
  skip_crds  = true
  wait       = true

  values = [
    file("${path.module}/helm-values/karpenter.yaml"),
    yamlencode({
      settings = {
        clusterName       = module.eks.cluster_name
        clusterEndpoint   = module.eks.cluster_endpoint
        interruptionQueue = module.karpenter.queue_name
      }
    }),
  ]

  depends_on = [module.eks, module.karpenter, helm_release.karpenter_crd, aws_iam_service_linked_role.spot]
}

locals {
  karpenter_version = "1.14.1"
  # The EC2NodeClass the gpu-train NodePool uses (argocd/bootstrap.py writes it into Git).
  gpu_train_node_class = var.training_placement_group ? "gpu-train" : "gpu"
}

# One cluster placement group for the multi-node training pool: its nodes share a network spine, which
# shortens NCCL's all-reduce over EFA. All of them land in one zone, and a launch fails
# (InsufficientInstanceCapacity) rather than spill out of the group, so it stays an option.
resource "aws_placement_group" "training" {
  count    = var.training_placement_group ? 1 : 0
  name     = "${var.cluster_name}-gpu-train"
  strategy = "cluster"
}

# EC2 launches spot instances for Karpenter's spot pools (gpu-serve, cpu) only through this
# service-linked role, and an account that never used spot lacks it. An account that has it already
# (`aws iam get-role --role-name AWSServiceRoleForEC2Spot`) sets create_spot_service_linked_role = false:
# the role is then only looked up, so a missing role fails the plan instead of the first spot launch.
resource "aws_iam_service_linked_role" "spot" {
  count            = var.create_spot_service_linked_role ? 1 : 0
  aws_service_name = "spot.amazonaws.com"
}

data "aws_iam_role" "spot" {
  count = var.create_spot_service_linked_role ? 0 : 1
  name  = "AWSServiceRoleForEC2Spot"
}
