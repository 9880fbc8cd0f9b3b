"""Importing a real shop's history: column mappings, typed reading, cleaning, panels.

* :mod:`online.ingest_real.mapping` — the mapping file (YAML) that says which column of
  which file is which field;
* :mod:`online.ingest_real.reader` — reads CSV / Parquet by a mapping into canonical
  frames; errors name the file, row and column;
* :mod:`online.ingest_real.cleaning` — the cleaning rules, their counts and the quarantine;
* :mod:`online.ingest_real.panel` — the clean frames as the calibration's sales panel.

Uses pandas; nothing light imports this package.
"""
