"""The deployment control plane: endpoints and their revisions, traffic policies and
routing, the gate each change passes, the watcher that follows revisions, the drill."""
