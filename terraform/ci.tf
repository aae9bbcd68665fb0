# GitHub Actions on the fork's main branch pushes images to ECR with a short-lived OIDC role
# (.github/workflows/ci.yml); no static AWS keys exist anywhere. Off while github_repository is "".
locals {
  github_ci = var.github_repository != "" ? 1 : 0
  github_oidc_provider_arn = (var.create_github_oidc_provider
    ? one(aws_iam_openid_connect_provider.github[*].arn)
  : one(data.aws_iam_openid_connect_provider.github[*].arn))
}

# An account has at most one provider per URL and most accounts that use GitHub Actions have it: it is
# adopted (looked up, so a missing one fails the plan with its URL) unless create_github_oidc_provider.
data "aws_iam_openid_connect_provider" "github" {
  count = local.github_ci == 1 && !var.create_github_oidc_provider ? 1 : 0
  url   = "https://token.actions.githubusercontent.com"
}

resource "aws_iam_openid_connect_provider" "github" {
  count = local.github_ci == 1 && var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "github_trust" {
  count = local.github_ci

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:ref:refs/heads/main"]
    }
  }
}

data "aws_iam_policy_document" "github_push" {
  count = local.github_ci

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }

  statement {
    sid = "PushFmopsImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [for r in aws_ecr_repository.images : r.arn]
  }

  statement {
    sid       = "EncryptLayers"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.fmops.arn]
  }
}

resource "aws_iam_role" "github_ci" {
  count = local.github_ci

  name               = "${var.cluster_name}-github-ci"
  description        = "GitHub Actions (${var.github_repository}, main) pushes fmops images to ECR"
  assume_role_policy = data.aws_iam_policy_document.github_trust[0].json
}

resource "aws_iam_role_policy" "github_push" {
  count = local.github_ci

  name   = "push-fmops-images"
  role   = aws_iam_role.github_ci[0].id
  policy = data.aws_iam_policy_document.github_push[0].json
}
