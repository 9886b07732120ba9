"""What the running hotline reports about itself: /healthz and /metrics."""
