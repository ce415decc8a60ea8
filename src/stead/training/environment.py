"""The environment a run executed in, and what differs between two of them.

Recorded per run: the interpreter, the platform, the CPU, every installed distribution
with its version, the native thread pools (BLAS, OpenMP) with their thread counts as
``threadpoolctl`` sees them, scikit-learn's global config, and the environment variables
that change numerics (thread counts, BLAS/OpenMP/MKL switches, ``PYTHONHASHSEED``).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sklearn
from threadpoolctl import threadpool_info

# Environment variables that change how numerical libraries compute (or with how many
# threads, which can change the order of floating-point sums).
NUMERIC_ENV_PREFIXES = (
    "OMP_",
    "KMP_",
    "GOMP_",
    "MKL_",
    "OPENBLAS_",
    "GOTO_",
    "BLIS_",
    "VECLIB_",
    "NUMEXPR_",
    "NPY_",
    "SKLEARN_",
    "ACCELERATE_",
)
NUMERIC_ENV_NAMES = ("PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES")


def capture_environment() -> dict[str, Any]:
    """A JSON-ready description of this process's environment.

    Call it after the model is fitted: ``threadpoolctl`` only sees native libraries that
    are loaded, and fitting loads them.
    """
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "compiler": platform.python_compiler(),
            "executable": sys.executable,
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
            "libc": " ".join(platform.libc_ver()).strip(),
        },
        "cpu": _cpu(),
        "packages": installed_packages(),
        "threadpools": [_pool(info) for info in threadpool_info()],
        "sklearn_config": {k: _plain(v) for k, v in sorted(sklearn.get_config().items())},
        "env": numeric_env(),
    }


def installed_packages() -> dict[str, str]:
    """Every installed distribution, ``{normalised name: version}`` (the first one found
    on ``sys.path`` wins, as for imports)."""
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        # A wheel's metadata directory is NAME-VERSION.dist-info: reading its name is
        # ~100x faster than parsing every METADATA file, which dominated capture time.
        folder = Path(str(getattr(dist, "_path", ""))).name
        name, _, version = folder.removesuffix(".dist-info").partition("-")
        if not (folder.endswith(".dist-info") and name and version):
            name, version = dist.metadata["Name"] or "", dist.version
        if name:
            packages.setdefault(_normalise(name), version)
    return dict(sorted(packages.items()))


def numeric_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    environ = dict(os.environ) if environ is None else environ
    return {
        key: value
        for key, value in sorted(environ.items())
        if key.startswith(NUMERIC_ENV_PREFIXES) or key in NUMERIC_ENV_NAMES
    }


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _cpu() -> dict[str, Any]:
    model = platform.processor() or None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:  # not available on macOS
        usable = None
    return {"model": model, "count": os.cpu_count(), "usable": usable}


def _pool(info: dict[str, Any]) -> dict[str, Any]:
    # The full path differs between virtualenvs of identical content; the file name
    # (which carries the build hash) identifies the library.
    keep = (
        "user_api",
        "internal_api",
        "prefix",
        "version",
        "num_threads",
        "threading_layer",
        "architecture",
    )
    pool = {key: _plain(info.get(key)) for key in keep if key in info}
    pool["library"] = Path(str(info.get("filepath", ""))).name
    return pool


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


@dataclass(frozen=True)
class EnvironmentDifference:
    """One way two environments differ: ``kind`` is python, platform, cpu, package,
    threads, sklearn_config or env."""

    kind: str
    name: str
    recorded: Any
    current: Any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.kind} {self.name}: {_show(self.recorded)} → {_show(self.current)}"


def _show(value: Any) -> str:
    return "(absent)" if value is None else str(value)


def diff_environments(
    recorded: dict[str, Any], current: dict[str, Any]
) -> list[EnvironmentDifference]:
    """Every difference that could change a result, most likely causes first."""
    found: list[EnvironmentDifference] = []
    for kind, keys in (
        ("python", ("version", "implementation", "compiler")),
        ("platform", ("system", "release", "machine", "libc")),
        ("cpu", ("model", "count", "usable")),
    ):
        a, b = recorded.get(kind, {}), current.get(kind, {})
        found += [
            EnvironmentDifference(kind, key, a.get(key), b.get(key))
            for key in keys
            if a.get(key) != b.get(key)
        ]
    found += _mapping_diff("package", recorded.get("packages", {}), current.get("packages", {}))
    found += _pool_diff(recorded.get("threadpools", []), current.get("threadpools", []))
    found += _mapping_diff(
        "sklearn_config", recorded.get("sklearn_config", {}), current.get("sklearn_config", {})
    )
    found += _mapping_diff("env", recorded.get("env", {}), current.get("env", {}))
    return found


def _mapping_diff(kind: str, a: dict[str, Any], b: dict[str, Any]) -> list[EnvironmentDifference]:
    return [
        EnvironmentDifference(kind, key, a.get(key), b.get(key))
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def _pool_diff(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[EnvironmentDifference]:
    def keyed(pools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {f"{p.get('internal_api')}:{p.get('library')}": p for p in pools}

    ka, kb = keyed(a), keyed(b)
    found = []
    for key in sorted(set(ka) | set(kb)):
        pa, pb = ka.get(key), kb.get(key)
        if pa is None or pb is None:
            found.append(EnvironmentDifference("threads", key, _pool_text(pa), _pool_text(pb)))
            continue
        for field_name in ("num_threads", "version", "architecture", "threading_layer"):
            if pa.get(field_name) != pb.get(field_name):
                found.append(
                    EnvironmentDifference(
                        "threads", f"{key} {field_name}", pa.get(field_name), pb.get(field_name)
                    )
                )
    return found


def _pool_text(pool: dict[str, Any] | None) -> str | None:
    if pool is None:
        return None
    return f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('num_threads')} threads)"
