import stead


def test_public_surface_is_the_intended_one() -> None:
    assert set(stead.__all__) == {
        "Conflict",
        "Contract",
        "ContractViolation",
        "DataError",
        "DatasetSnapshot",
        "GateFailed",
        "IntegrityError",
        "NotFound",
        "PermissionDenied",
        "ReproductionFailed",
        "SettingsError",
        "SpecError",
        "SteadError",
        "Unauthenticated",
        "UsageError",
        "ValidationReport",
        "Workspace",
        "__version__",
    }
    for name in stead.__all__:
        assert hasattr(stead, name)
