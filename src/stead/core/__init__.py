"""The small core every lifecycle stage stands on: settings, errors, ids, clock,
metadata store, artifact store and audit trail. It imports no stage."""
