"""Defaults shared by the agent's commands and entry points (no imports: ``--help`` stays fast).

``DEFAULT_POLICY`` is the policy that decides when none is named: the language-model policy
(``policies/lm``, the shipped checkpoint ``policies/lm/checkpoints/default``; its
``RECORD.md`` says how it was trained and how it scores). Name another registered policy
with ``--policy`` (``base_stock_tuned``, ``mpc``, ...).

``ACTION_OUTCOME_DAYS`` is how many days of a SKU's profit, from the day an executed line
took effect, make that action's realised outcome, in simulated runs (``agent.runner``) and
on real shops (``agent.real_run``) alike.
"""

DEFAULT_POLICY = "lm"

#: Days of a SKU's profit (from the day a line took effect) that make its action's outcome.
ACTION_OUTCOME_DAYS = 7
