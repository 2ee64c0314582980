# clipflow's AWS side: the media bucket, the queue its uploads notify, and least-privilege
# policies for the workers (flow runs) and the S3 event bridge. See infra/README.md.

data "aws_caller_identity" "current" {}

locals {
  bucket_arn = aws_s3_bucket.media.arn
  # What a flow run may list: its own prefixes only.
  list_prefixes = [for p in [var.inbox_prefix, var.output_prefix, var.results_prefix] : "${p}*"]
}

# --- bucket --------------------------------------------------------------------------------------

resource "aws_s3_bucket" "media" {
  bucket = var.bucket_name
}

resource "aws_s3_bucket_ownership_controls" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "media" {
  bucket = aws_s3_bucket.media.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "media" {
  bucket = aws_s3_bucket.media.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "media" {
  bucket = aws_s3_bucket.media.id

  rule {
    id     = "tidy"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.media]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]

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

resource "aws_s3_bucket_policy" "media" {
  bucket = aws_s3_bucket.media.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.media]
}

# --- queue ---------------------------------------------------------------------------------------

resource "aws_sqs_queue" "uploads_dlq" {
  name                      = "${var.name}-uploads-dlq"
  message_retention_seconds = 1209600 # 14 days, the most SQS keeps a message
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "uploads" {
  name                       = "${var.name}-uploads"
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  receive_wait_time_seconds  = 20 # long polling
  message_retention_seconds  = 345600
  # SSE-SQS: S3 can publish to it (an AWS-managed KMS key would refuse S3's messages).
  sqs_managed_sse_enabled = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.uploads_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "uploads_dlq" {
  queue_url = aws_sqs_queue.uploads_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.uploads.arn]
  })
}

data "aws_iam_policy_document" "uploads_queue" {
  statement {
    sid       = "AllowMediaBucketNotifications"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.uploads.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "uploads" {
  queue_url = aws_sqs_queue.uploads.id
  policy    = data.aws_iam_policy_document.uploads_queue.json
}

# --- notification --------------------------------------------------------------------------------

# One rule per suffix (S3 filters take one prefix and one suffix); different suffixes do not
# overlap, so S3 accepts them side by side.
resource "aws_s3_bucket_notification" "uploads" {
  bucket = aws_s3_bucket.media.id

  dynamic "queue" {
    for_each = toset(var.video_suffixes)

    content {
      id            = "uploads${queue.value}"
      queue_arn     = aws_sqs_queue.uploads.arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = var.inbox_prefix
      filter_suffix = queue.value
    }
  }

  # S3 checks that it may send to the queue when the notification is saved.
  depends_on = [aws_sqs_queue_policy.uploads]
}

# --- least-privilege policies --------------------------------------------------------------------

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ReadInbox"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arn}/${var.inbox_prefix}*"]
  }

  statement {
    sid = "ReadWriteOutputsAndResults"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:AbortMultipartUpload",
    ]
    resources = [
      "${local.bucket_arn}/${var.output_prefix}*",
      "${local.bucket_arn}/${var.results_prefix}*",
    ]
  }

  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.list_prefixes
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "UseBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "worker" {
  name        = "${var.name}-worker"
  description = "clipflow flow runs: read ${var.inbox_prefix}, read and write ${var.output_prefix} and ${var.results_prefix} of ${var.bucket_name}."
  policy      = data.aws_iam_policy_document.worker.json
}

data "aws_iam_policy_document" "bridge" {
  statement {
    sid = "ConsumeUploadsQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.uploads.arn]
  }
}

resource "aws_iam_policy" "bridge" {
  name        = "${var.name}-bridge"
  description = "clipflow S3 event bridge: receive and delete messages of ${aws_sqs_queue.uploads.name}."
  policy      = data.aws_iam_policy_document.bridge.json
}

resource "aws_iam_role_policy_attachment" "worker" {
  for_each = toset(var.worker_role_names)

  role       = each.value
  policy_arn = aws_iam_policy.worker.arn
}

resource "aws_iam_role_policy_attachment" "bridge" {
  for_each = toset(var.bridge_role_names)

  role       = each.value
  policy_arn = aws_iam_policy.bridge.arn
}
