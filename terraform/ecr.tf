# Private repositories for the train and eval images: scanned on push, tags immutable,
# encrypted with the fmops key, untagged layers expired.
resource "aws_ecr_repository" "images" {
  for_each = toset(var.ecr_repositories)

  name                 = each.value
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.fmops.arn
  }
}

resource "aws_ecr_lifecycle_policy" "images" {
  for_each   = aws_ecr_repository.images
  repository = each.value.name

  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Expire untagged images after 14 days"
      selection = {
        tagStatus   = "untagged"
        countType   = "sinceImagePushed"
        countUnit   = "days"
        countNumber = 14
      }
      action = { type = "expire" }
    }]
  })
}

locals {
  # <account>.dkr.ecr.<region>.amazonaws.com, derived from a repository URL, never written out.
  ecr_registry = split("/", aws_ecr_repository.images[var.ecr_repositories[0]].repository_url)[0]
}
