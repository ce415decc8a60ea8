import stead.monitoring


def test_the_monitoring_surface_is_the_intended_one() -> None:
    assert set(stead.monitoring.__all__) == {
        "PSI",
        "Alert",
        "Decision",
        "MonitorResult",
        "RetrainTrigger",
        "SignalResult",
        "WindowSpec",
        "decide",
        "ChiSquare",
        "ColumnDrift",
        "DriftConfig",
        "DriftInputError",
        "DriftReport",
        "DriftStatistic",
        "JensenShannon",
        "KolmogorovSmirnov",
        "StatisticResult",
        "UnseenRate",
        "Wasserstein",
        "comparable",
        "detect_column_drift",
        "detect_drift",
        "detect_prediction_drift",
        "profile_outputs",
    }
    for name in stead.monitoring.__all__:
        assert hasattr(stead.monitoring, name)
