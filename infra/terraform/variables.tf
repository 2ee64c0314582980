variable "aws_region" {
  description = "AWS region of the bucket and the queue."
  type        = string
}

variable "name" {
  description = "Prefix of the queue and policy names."
  type        = string
  default     = "clipflow"
}

variable "bucket_name" {
  description = "Name of the media bucket (globally unique): recordings in, clips and reports out."
  type        = string
}

variable "inbox_prefix" {
  description = "Key prefix of uploaded recordings; uploads below it start jobs."
  type        = string
  default     = "inbox/"

  validation {
    condition     = can(regex("^[^/].*/$", var.inbox_prefix))
    error_message = "inbox_prefix must end with / and must not start with /."
  }
}

variable "output_prefix" {
  description = "Key prefix the jobs publish clips and reports below (clipflow run --out s3://BUCKET/PREFIX)."
  type        = string
  default     = "out/"

  validation {
    condition     = can(regex("^[^/].*/$", var.output_prefix))
    error_message = "output_prefix must end with / and must not start with /."
  }
}

variable "results_prefix" {
  description = "Key prefix of Prefect's persisted task results (the S3 result storage block)."
  type        = string
  default     = "prefect-results/"

  validation {
    condition     = can(regex("^[^/].*/$", var.results_prefix))
    error_message = "results_prefix must end with / and must not start with /."
  }
}

variable "video_suffixes" {
  description = "Object key suffixes that notify the queue (one notification rule each); sidecar transcripts and other uploads do not."
  type        = list(string)
  default     = [".mp4", ".mov", ".mkv", ".webm"]

  validation {
    condition     = length(var.video_suffixes) > 0 && alltrue([for s in var.video_suffixes : startswith(s, ".")])
    error_message = "video_suffixes must be a non-empty list of suffixes starting with a dot."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the bucket (SSE-KMS); null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept before it expires."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "queue_visibility_timeout_seconds" {
  description = "How long a received notification stays invisible before another receive may see it; longer than the bridge takes to emit one event."
  type        = number
  default     = 120
}

variable "max_receive_count" {
  description = "Receives of one message before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "worker_role_names" {
  description = "Existing IAM roles (e.g. the IRSA role of the clipflow-flow-runs service account, or an EC2 instance role) that get the worker policy."
  type        = list(string)
  default     = []
}

variable "bridge_role_names" {
  description = "Existing IAM roles (e.g. the IRSA role of the clipflow-bridge service account) that get the bridge policy."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = { project = "clipflow" }
}
