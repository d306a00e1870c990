"""The NATS JetStream event log: streams per topic, subjects per partition, durable pulls."""
