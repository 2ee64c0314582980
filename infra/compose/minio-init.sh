#!/bin/sh
# One-shot set-up of MinIO (the minio-init service): the bucket, a least-privilege user for the
# workers, and the bucket notification that feeds the relay. Safe to run again.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing local/clipflow
mc version enable local/clipflow

# Workers get their own key, limited to inbox/ (read), out/ and prefect-results/ (read, write).
mc admin user add local clipflow-worker "$CLIPFLOW_S3_SECRET"
mc admin policy create local clipflow-worker /init/minio-worker-policy.json
mc admin policy attach local clipflow-worker --user clipflow-worker 2>/dev/null || true

# Recordings uploaded below inbox/ notify the webhook target CLIPFLOW (the
# MINIO_NOTIFY_WEBHOOK_*_CLIPFLOW variables of the minio service), i.e. the relay, which puts
# each notification on the SQS queue that the bridge reads.
for suffix in .mp4 .mov .mkv .webm; do
  mc event add --ignore-existing local/clipflow arn:minio:sqs::CLIPFLOW:webhook \
    --event put --prefix inbox/ --suffix "$suffix"
done
mc event ls local/clipflow
