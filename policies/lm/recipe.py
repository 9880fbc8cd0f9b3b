"""The measured RL recipe, in one place and without imports (so ``shopops --help`` stays fast).

``shopops train rl``, :class:`policies.lm.rl.RLRunConfig` and the reward check
(``shopops bench lm-departures``, :func:`eval.lm_reward_check.departure_values`) all take
their defaults from here. This is the recipe of the shipped checkpoint (``rlB`` in
``policies/lm/checkpoints/default/RECORD.md``): one round of 40 generation batches (160
optimiser steps) on each training scenario plus 2 randomised shops, rolled out also after
12 and 25 days without orders, every completion scored over a 56-day horizon plus a 14-day
tail on 8 futures. Shorter horizons under-value promotions (the record has the figures).
"""

ROUNDS = 1
STEPS_PER_ROUND = 40
VARIANTS = 2
STARVE_DAYS = (12, 25)
HORIZON = 56
TAIL_DAYS = 14
N_FUTURES = 8

#: Shipped scenarios the LM trains on (held-out ``new_category`` and the 10k-SKU ``large``
#: are excluded: one is for reporting, the other too big for a CPU training set).
TRAIN_SCENARIOS = ("steady", "festival", "disruption", "drift", "fresh", "classic")
