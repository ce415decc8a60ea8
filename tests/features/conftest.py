from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_native_thread() -> Iterator[None]:
    """Tests run two workers on two cores: OpenMP/BLAS pools of two threads each would
    oversubscribe them, and spinning OpenMP threads make small fits several times slower."""
    with threadpool_limits(limits=1):
        yield
