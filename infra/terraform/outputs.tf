output "bucket_name" {
  description = "The media bucket: upload recordings to s3://BUCKET/<inbox_prefix>."
  value       = aws_s3_bucket.media.bucket
}

output "bucket_arn" {
  description = "ARN of the media bucket."
  value       = aws_s3_bucket.media.arn
}

output "queue_url" {
  description = "The uploads queue: the bridge's --queue-url (QUEUE_URL in infra/k8s/bridge.env)."
  value       = aws_sqs_queue.uploads.url
}

output "queue_arn" {
  description = "ARN of the uploads queue."
  value       = aws_sqs_queue.uploads.arn
}

output "dead_letter_queue_url" {
  description = "Notifications the bridge failed on max_receive_count times; inspect, then redrive."
  value       = aws_sqs_queue.uploads_dlq.url
}

output "worker_policy_arn" {
  description = "Attach to the role of flow-run pods or worker machines."
  value       = aws_iam_policy.worker.arn
}

output "bridge_policy_arn" {
  description = "Attach to the role of the bridge."
  value       = aws_iam_policy.bridge.arn
}
