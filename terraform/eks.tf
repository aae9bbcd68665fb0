# The cluster and one small managed node group for controllers; every workload node (GPU training,
# GPU serving, CPU) is launched by Karpenter from the NodePools in argocd/addons/karpenter/.
module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.29.0"
  #checkov:skip=CKV_TF_1:Registry module pinned to an exact release (immutable); a commit hash would bypass the registry.

  name               = var.cluster_name
  kubernetes_version = var.kubernetes_version

  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  endpoint_private_access      = true

  # Whoever runs `terraform apply` administers the cluster; add more principals as access entries.
  enable_cluster_creator_admin_permissions = true
  authentication_mode                      = "API"

  enabled_log_types = ["api", "audit", "authenticator"]

  addons = {
    coredns                = {}
    kube-proxy             = {}
    eks-pod-identity-agent = { before_compute = true }
    vpc-cni                = { before_compute = true }
  }

  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.private_subnets
  control_plane_subnet_ids = module.vpc.intra_subnets

  eks_managed_node_groups = {
    system = {
      instance_types = var.system_instance_types
      ami_type       = "AL2023_x86_64_STANDARD"
      min_size       = var.system_node_count
      desired_size   = var.system_node_count
      max_size       = var.system_node_max
      # Karpenter's controller must not run on nodes it manages.
      labels = { "karpenter.sh/controller" = "true" }
    }
  }

  # EFA needs all traffic between the nodes' interfaces; Karpenter discovers this security group.
  node_security_group_additional_rules = {
    ingress_self_all = {
      description = "Node to node, all protocols (EFA, NCCL)"
      protocol    = "-1"
      from_port   = 0
      to_port     = 0
      type        = "ingress"
      self        = true
    }
    egress_self_all = {
      description = "Node to node, all protocols (EFA requires a self-referencing egress rule)"
      protocol    = "-1"
      from_port   = 0
      to_port     = 0
      type        = "egress"
      self        = true
    }
  }

  node_security_group_tags = {
    "karpenter.sh/discovery" = var.cluster_name
  }
}
