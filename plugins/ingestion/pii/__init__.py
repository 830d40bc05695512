"""PII protection: masking strategies applied to Arrow batches before anything reaches the general zone or Kafka."""
