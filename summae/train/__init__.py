"""Training: the trainer, pseudo-summaries, batches, guards, dev evaluation, metrics and plots."""
