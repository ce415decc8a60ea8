"""Reproducible training: the problem definition, training specs, runs with their code,
data, features, seed and environment, evaluation against a baseline, and reproduction."""
