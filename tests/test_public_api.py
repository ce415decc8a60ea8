import stead


def test_public_surface_is_the_intended_one() -> None:
    assert set(stead.__all__) == {
        "Conflict",
        "Contract",
        "ContractViolation",
        "DataError",
        "DatasetSnapshot",
        "Deployment",
        "Endpoint",
        "FeatureSet",
        "GateFailed",
        "IntegrityError",
        "ModelVersion",
        "NotFound",
        "PermissionDenied",
        "PredictionRecord",
        "ReproductionFailed",
        "SettingsError",
        "SpecError",
        "SteadError",
        "TrafficPolicy",
        "TrainingRun",
        "Unauthenticated",
        "UsageError",
        "ValidationReport",
        "Workspace",
        "__version__",
    }
    for name in stead.__all__:
        assert hasattr(stead, name)
