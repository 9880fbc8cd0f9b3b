"""Calibration: fit a simulator scenario (a digital twin) to a shop's sales history.

The pipeline, one module per step:

* :mod:`envs.calibration.config` — :class:`CalibrationConfig`, every knob documented;
* :mod:`envs.calibration.panel` — the canonical sales panel (one row per series and period)
  and its validation, weekly aggregation and train / hold-out split;
* :mod:`envs.calibration.fit` — the estimates per series (pooled by category where data is
  thin): elasticity, promotion log-lifts, seasonality, trend, level and dispersion;
* :mod:`envs.calibration.scenario_out` — the fitted scenario as a ``ScenarioSpec`` / YAML;
* :mod:`envs.calibration.twin` — held-out validation through the real simulator;
* :mod:`envs.calibration.report` — the fit report (Markdown, JSON, plots).

This package uses pandas; nothing in :mod:`envs` imports it, so ``import envs`` stays light.
"""
