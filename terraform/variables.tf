# Everything account- or site-specific is a variable; the defaults suit a first, small cluster.

variable "region" {
  description = "AWS region of the cluster, the bucket and the ECR repositories."
  type        = string
  default     = "us-west-2"
}

variable "cluster_name" {
  description = "EKS cluster name; also the Karpenter discovery tag value and the prefix of IAM names."
  type        = string
  default     = "fmops"
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.34"
}

variable "tags" {
  description = "Tags added to every AWS resource."
  type        = map(string)
  default     = {}
}

# --- network -------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "VPC range; private subnets get /19s, public and intra subnets /24s."
  type        = string
  default     = "10.42.0.0/16"
}

variable "availability_zones" {
  description = "Zone names to use (pick the zones with your p5/p4d capacity); empty: the region's first zones."
  type        = list(string)
  default     = []
}

variable "availability_zone_count" {
  description = "How many availability zones the VPC spans at most (fewer where the region has fewer)."
  type        = number
  default     = 3
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the VPC (cheaper) instead of one per availability zone (zone-redundant)."
  type        = bool
  default     = true
}

# --- cluster access ------------------------------------------------------------------------------

variable "endpoint_public_access" {
  description = "Expose the Kubernetes API endpoint to endpoint_public_access_cidrs (authenticated by IAM); false keeps it VPC-only, and then terraform apply must run from inside the VPC."
  type        = bool
  default     = true
}

# No default: who may reach the API is always a decision, never 0.0.0.0/0. Non-empty while the
# endpoint is public (this machine's address included: Terraform installs Karpenter and Argo CD
# through it); [] with endpoint_public_access = false.
variable "endpoint_public_access_cidrs" {
  description = "Source ranges (your offices, VPN, CI runners) allowed to reach a public API endpoint; [] when private."
  type        = list(string)

  validation {
    condition     = alltrue([for cidr in var.endpoint_public_access_cidrs : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "endpoint_public_access_cidrs: each entry must be a CIDR range narrower than 0.0.0.0/0."
  }

  validation {
    condition     = !var.endpoint_public_access || length(var.endpoint_public_access_cidrs) > 0
    error_message = "endpoint_public_access_cidrs: required (at least one range) when endpoint_public_access is true."
  }
}

# --- system node group (Karpenter, Argo CD, controllers); GPU and CPU work goes to Karpenter pools ---

variable "system_instance_types" {
  description = "Instance types of the managed node group that runs the controllers."
  type        = list(string)
  default     = ["m7i.xlarge", "m6i.xlarge"]
}

variable "system_node_count" {
  description = "Size of the system node group (min = desired)."
  type        = number
  default     = 2
}

variable "system_node_max" {
  description = "Upper bound of the system node group."
  type        = number
  default     = 4
}

# --- training nodes ------------------------------------------------------------------------------

variable "training_placement_group" {
  description = "Launch the gpu-train pool (multi-node EFA jobs) into one cluster placement group: lower latency between nodes, one zone, and launches can fail with InsufficientInstanceCapacity more often."
  type        = bool
  default     = false
}

# --- storage and images --------------------------------------------------------------------------

variable "bucket_name" {
  description = "S3 bucket for data, checkpoints, models and Argo artifacts; empty: <cluster>-<account>-<region>."
  type        = string
  default     = ""
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept before it expires."
  type        = number
  default     = 30
}

variable "ecr_repositories" {
  description = "ECR repositories for the images under images/ (tags are immutable)."
  type        = list(string)
  default     = ["fmops-train", "fmops-eval"]
}

variable "image_tag" {
  description = "Image tag the workflows run (images/README.md); CI pushes it from main."
  type        = string
  default     = "0.1.0"
}

variable "model_name" {
  description = "Registry model name written into the workflows' fmops-settings ConfigMap."
  type        = string
  default     = "fmops-demo"
}

# --- GitOps --------------------------------------------------------------------------------------

variable "repo_url" {
  description = "HTTPS URL of your fork of this repository; Argo CD syncs argocd/ and workflows/ from it."
  type        = string
}

variable "git_revision" {
  description = "Branch, tag or commit of repo_url that Argo CD follows."
  type        = string
  default     = "main"
}

variable "github_repository" {
  description = "owner/name of the fork on GitHub whose main branch may push images to ECR via OIDC; empty: no CI role."
  type        = string
  default     = ""
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider; false (default) adopts the one the account has."
  type        = bool
  default     = false
}

variable "create_spot_service_linked_role" {
  description = "Create AWSServiceRoleForEC2Spot (an account that never used spot); false adopts the existing role."
  type        = bool
  default     = true
}
