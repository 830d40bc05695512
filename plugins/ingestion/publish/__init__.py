"""Publishing landed records to Kafka."""
