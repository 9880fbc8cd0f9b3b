"""Defaults shared by the agent's commands and entry points (no imports: ``--help`` stays fast).

``DEFAULT_POLICY`` is the policy that decides when none is named: the language-model policy
(``policies/lm``, the shipped checkpoint ``policies/lm/checkpoints/default``; its
``RECORD.md`` says how it was trained and how it scores). Name another registered policy
with ``--policy`` (``base_stock_tuned``, ``mpc``, ...).
"""

DEFAULT_POLICY = "lm"
