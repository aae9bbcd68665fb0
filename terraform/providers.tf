provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# Both cluster providers authenticate with a short-lived token from the AWS CLI: no kubeconfig,
# no static credential in state.
provider "helm" {
  kubernetes = {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
    }
  }
}

provider "kubernetes" {
  host                   = module.eks.cluster_endpoint
  cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The zones named in var.availability_zones, else every regular zone of the region (local and
# wavelength zones are opt-in and excluded); the first availability_zone_count of them are used, or all
# of them in a region with fewer.
data "aws_availability_zones" "available" {
  filter {
    name   = "zone-name"
    values = length(var.availability_zones) > 0 ? var.availability_zones : ["${var.region}*"]
  }
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  zones      = sort(data.aws_availability_zones.available.names)
  azs        = slice(local.zones, 0, min(var.availability_zone_count, length(local.zones)))
  tags = merge(var.tags, {
    "fmops.io/cluster" = var.cluster_name
    "managed-by"       = "terraform"
  })
}
