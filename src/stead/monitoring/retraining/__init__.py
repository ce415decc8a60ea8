"""Retraining: triggers raised once per cause, leased while processed, and turned into
an evaluated, gated candidate (:mod:`.retrainer`, :mod:`.spec`)."""
