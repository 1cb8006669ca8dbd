"""Evaluation: ROUGE, baselines and readability measures."""
