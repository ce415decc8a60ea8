"""Drift: one window's columns against a version's reference, statistic by statistic.

:mod:`.column_pass` reads each column once into the numbers every statistic needs,
:mod:`.statistics` holds the statistics, :mod:`.thresholds` their thresholds,
:mod:`.detect` runs them column by column, :mod:`.outputs` does the same on a model's
outputs, :mod:`.reference` computes what a version is compared with, and
:mod:`.report` is what they found.
"""
