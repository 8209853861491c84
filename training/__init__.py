"""Training, evaluation and model registry commands: thin stages over ``matching``."""
