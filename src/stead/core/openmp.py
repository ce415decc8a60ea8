"""OpenMP threads that wait without spinning, for the ``stead`` command's processes.

scikit-learn's native code (histogram gradient boosting, k-means, pairwise distances)
runs its loops on libgomp's threads. By default a libgomp thread that reaches the end
of a loop busy-waits for the next one. That is a gain on an otherwise idle machine and a
disaster on a shared one: with every core busy, the spinning thread holds the core the
thread it waits for needs, and each of the thousands of barriers in one fit costs a
scheduler time slice. Measured on 2 cores at load 8-12 (the same 8,645 × 12 fit in fresh
processes): 10-65 s by default, 1.7-3.2 s with ``OMP_WAIT_POLICY=PASSIVE``, 0.9-1.4 s with
one thread; a shorter spin (``GOMP_SPINCOUNT=10000``) was no better than the default.

libgomp reads the policy once, when it is loaded, so this must run before scikit-learn
is imported: the ``stead`` command calls it first thing, and every process it starts
(server workers, training) inherits it. A user who set any of the variables keeps their
choice; API users who share a busy machine can set ``OMP_WAIT_POLICY=PASSIVE`` themselves.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def passive_waits(env: MutableMapping[str, str] = os.environ) -> bool:
    """Make OpenMP threads sleep while they wait, unless the user chose a policy.

    Returns whether the policy was set here.
    """
    if any(name in env for name in WAIT_VARIABLES):
        return False
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
