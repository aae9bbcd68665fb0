# EKS Pod Identity: one IAM role per Kubernetes service account, each limited to the bucket prefixes
# its pods use. The service accounts themselves live in Git (argocd/addons/fmops/).
#
# Bucket layout (outputs.tf: storage-root s3://<bucket>/fmops, data-root s3://<bucket>/data; Argo
# artifacts and logs under argo/):
#   data/             datasets                      read: workflow steps
#   fmops/runs/       run outputs and checkpoints   read-write: workflow steps; read: deploy
#   fmops/monitoring/ drift history                 read-write: workflow steps (fmops-monitor)
#   fmops/watermarks/ shards already trained on     read-write: workflow steps (continuous pretraining)
#   fmops/models/     the model registry            read-write: fmops-deploy (deploy, registry publish);
#                                                   read: serving, workflow steps (gates, start models)
#   argo/             Argo artifacts and logs       read-write: every workflow pod (its wait container); read: argo-server
locals {
  s3_via_service = "s3.${var.region}.amazonaws.com"

  pod_identities = {
    workflow = {
      namespace       = "fmops"
      service_account = "fmops-workflow"
      read            = ["data/", "fmops/", "argo/"]
      write           = ["fmops/runs/", "fmops/monitoring/", "fmops/watermarks/", "argo/"]
    }
    deploy = {
      namespace       = "fmops"
      service_account = "fmops-deploy"
      read            = ["fmops/runs/", "fmops/models/", "argo/"]
      write           = ["fmops/models/", "argo/"]
    }
    serving = {
      namespace       = "fmops"
      service_account = "fmops-serving"
      read            = ["fmops/models/"]
      write           = []
    }
    argo = {
      namespace       = "argo"
      service_account = "argo-server"
      read            = ["argo/"]
      write           = []
    }
  }
}

# Only Pod Identity on this cluster, in this account, for this namespace and service account may assume
# the role: another association made later (by hand, or by anyone allowed to create one) to the same
# role is refused by STS, not trusted.
data "aws_iam_policy_document" "pod_identity_trust" {
  for_each = local.pod_identities

  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/eks-cluster-name"
      values   = [var.cluster_name]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-namespace"
      values   = [each.value.namespace]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/kubernetes-service-account"
      values   = [each.value.service_account]
    }
  }
}

data "aws_iam_policy_document" "bucket_access" {
  for_each = local.pod_identities

  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.fmops.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      # "data" as well as "data/*": a client that checks a directory lists its bare name first.
      values = flatten([for prefix in each.value.read : [trimsuffix(prefix, "/"), "${prefix}*"]])
    }
  }

  statement {
    sid       = "LocateTheBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.fmops.arn]
  }

  statement {
    sid       = "ReadOwnPrefixes"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [for prefix in each.value.read : "${aws_s3_bucket.fmops.arn}/${prefix}*"]
  }

  dynamic "statement" {
    for_each = length(each.value.write) > 0 ? [1] : []
    content {
      sid       = "WriteOwnPrefixes"
      actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      resources = [for prefix in each.value.write : "${aws_s3_bucket.fmops.arn}/${prefix}*"]
    }
  }

  statement {
    sid       = "UseTheBucketKeyThroughS3"
    actions   = length(each.value.write) > 0 ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
    resources = [aws_kms_key.fmops.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via_service]
    }
  }
}

resource "aws_iam_role" "pod" {
  for_each = local.pod_identities

  name               = "${var.cluster_name}-${each.key}"
  description        = "fmops ${each.value.namespace}/${each.value.service_account} (EKS Pod Identity)"
  assume_role_policy = data.aws_iam_policy_document.pod_identity_trust[each.key].json
}

resource "aws_iam_role_policy" "bucket_access" {
  for_each = local.pod_identities

  name   = "fmops-bucket-${length(each.value.write) > 0 ? "read-write" : "read-only"}"
  role   = aws_iam_role.pod[each.key].id
  policy = data.aws_iam_policy_document.bucket_access[each.key].json
}

resource "aws_eks_pod_identity_association" "pod" {
  for_each = local.pod_identities

  cluster_name    = module.eks.cluster_name
  namespace       = each.value.namespace
  service_account = each.value.service_account
  role_arn        = aws_iam_role.pod[each.key].arn
}
