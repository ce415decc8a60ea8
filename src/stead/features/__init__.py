"""Versioned feature sets (user code that builds a scikit-learn transformer, hashed by
content) and the leakage checks run before every training."""
