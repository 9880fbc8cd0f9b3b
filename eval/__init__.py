"""Evaluation: KPIs, the harness behind ``shopops eval``, statistics, reports and plots.

Modules (import what you need; nothing heavy is imported here):

* :mod:`eval.kpis` — per-run KPIs accumulated day by day (:class:`~eval.kpis.Kpis`).
* :mod:`eval.episode` — :func:`~eval.episode.run_episode`: one policy, scenario and seed,
  with optional per-SKU traces. The agent and replay commands build on it.
* :mod:`eval.splits` — which seeds and scenarios are for tuning/training and which are held
  out for reporting.
* :mod:`eval.harness` — :class:`~eval.harness.EvalConfig` and
  :func:`~eval.harness.run_evaluation`: policies x scenarios x seeds in parallel processes.
* :mod:`eval.stats` — t-intervals, paired differences, percent of a reference or bound.
* :mod:`eval.report`, :mod:`eval.plots` — terminal tables, CSV/Parquet, Markdown and PNGs.
"""
