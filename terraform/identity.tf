# EKS Pod Identity: the workflow pods (namespace fmops, service account fmops-workflow) read and write
# the fmops bucket and nothing else; serving pods (fmops-serving) and the Argo server (artifact
# viewer) only read it. The service accounts themselves live in Git (argocd/addons/fmops/).
locals {
  bucket_objects = "${aws_s3_bucket.fmops.arn}/*"
  s3_via_service = "s3.${var.region}.amazonaws.com"

  pod_identities = {
    workflow = { namespace = "fmops", service_account = "fmops-workflow", write = true }
    serving  = { namespace = "fmops", service_account = "fmops-serving", write = false }
    argo     = { namespace = "argo", service_account = "argo-server", write = false }
  }
}

data "aws_iam_policy_document" "pod_identity_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "bucket_access" {
  for_each = local.pod_identities

  statement {
    sid       = "ListTheBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.fmops.arn]
  }

  statement {
    sid       = "ReadObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.bucket_objects]
  }

  dynamic "statement" {
    for_each = each.value.write ? [1] : []
    content {
      sid       = "WriteObjects"
      actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      resources = [local.bucket_objects]
    }
  }

  statement {
    sid       = "UseTheBucketKeyThroughS3"
    actions   = each.value.write ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
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
  assume_role_policy = data.aws_iam_policy_document.pod_identity_trust.json
}

resource "aws_iam_role_policy" "bucket_access" {
  for_each = local.pod_identities

  name   = "fmops-bucket-${each.value.write ? "read-write" : "read-only"}"
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
