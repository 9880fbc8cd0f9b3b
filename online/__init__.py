"""Online signals: per-SKU River models fed by typed shop events.

Import what you need from the submodules (this package imports nothing heavy itself):

* :mod:`online.events` — typed events (:class:`~online.events.SaleEvent`, ...);
* :mod:`online.hub` — :class:`~online.hub.SignalHub`: ``update(events)``, ``forecast``,
  ``alerts``, ``anomalies``, ``save`` / ``load``;
* :mod:`online.sim_source` — events from the simulator;
* :mod:`online.ingest` — events from CSV / Parquet / JSONL files with a column mapping;
* :mod:`online.forecaster`, :mod:`online.drift`, :mod:`online.anomaly` — the models, all
  following :class:`online.protocol.OnlineModel`.
"""
