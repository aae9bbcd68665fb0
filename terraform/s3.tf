# One bucket for datasets, checkpoints, the model registry and Argo artifacts:
# KMS-encrypted, versioned, never public, TLS only.
locals {
  bucket_name = var.bucket_name != "" ? var.bucket_name : "${var.cluster_name}-${local.account_id}-${var.region}"
}

resource "aws_kms_key" "fmops" {
  description             = "fmops: S3 data bucket and ECR repositories"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "fmops" {
  name          = "alias/${var.cluster_name}"
  target_key_id = aws_kms_key.fmops.key_id
}

# The account administers the key through IAM; S3 and ECR use it on behalf of principals IAM allows.
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:The default key policy: IAM policies, not this document, grant use of the key.
  #checkov:skip=CKV_AWS_356:In a key policy the resource "*" is the key itself.
  #checkov:skip=CKV_AWS_109:The account root must administer its key, or the key becomes unmanageable.
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_s3_bucket" "fmops" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a per-team disaster-recovery choice; checkpoints are reproducible.
  #checkov:skip=CKV_AWS_18:Server access logging needs a second bucket; CloudTrail data events are the recommended audit path.
  #checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications; Argo Workflows polls.
  bucket = local.bucket_name
}

resource "aws_s3_bucket_ownership_controls" "fmops" {
  bucket = aws_s3_bucket.fmops.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "fmops" {
  bucket                  = aws_s3_bucket.fmops.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "fmops" {
  bucket = aws_s3_bucket.fmops.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "fmops" {
  bucket = aws_s3_bucket.fmops.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.fmops.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "fmops" {
  bucket = aws_s3_bucket.fmops.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.fmops]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.fmops.arn,
      "${aws_s3_bucket.fmops.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "fmops" {
  bucket     = aws_s3_bucket.fmops.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.fmops]
}
