from tests.registry.governed import (  # noqa: F401  (shared fixtures)
    _reg,
    _reg_dir,
    _registry_template,
    _runs,
)
