# Providers and modules are pinned; `terraform init` writes .terraform.lock.hcl, commit it in your fork.
terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.14"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.38"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # Remote state, configured at init time so no bucket name or account lives in code:
  #   cp backend.hcl.example backend.hcl   # edit bucket, key, region
  #   terraform init -backend-config=backend.hcl
  # CI validates without state: terraform init -backend=false && terraform validate
  backend "s3" {}
}
