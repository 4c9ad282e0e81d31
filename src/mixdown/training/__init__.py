"""Training: losses, the trainer, metric loggers."""
