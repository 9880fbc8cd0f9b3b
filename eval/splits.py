"""Train/test discipline: which episode seeds and scenarios are for tuning, which for reporting.

Every number ShopOps reports comes from seeds no policy was tuned or trained on. The
repository's convention (shared with ``policies/tuning.py``, the tuned files in
``policies/tuned/`` and the PPO runs in ``artifacts/ppo/``):

==========  ===================  ==================================================
split       seeds                use
==========  ===================  ==================================================
``test``    0 .. 999             reported evaluations (``shopops eval`` default)
``train``   1000 and above       tuning parameters, training PPO / the LM policy,
                                 validation during development
==========  ===================  ==================================================

Scenarios are split the same way: a scenario whose file says ``held_out: true``
(``new_category``) must never be used for tuning or training; it measures transfer to a
shop the policies have not seen. :func:`tuning_scenarios` lists the ones that may be used.

Tuners and trainers should draw their seeds from :data:`TRAIN_SEED_START` upwards and call
:func:`check_tuning_scenario`; the evaluation harness calls :func:`check_report_seeds`,
which refuses training seeds unless explicitly overridden (and then the output says so).
"""

from __future__ import annotations

from collections.abc import Iterable

from eval.errors import SplitError

__all__ = [
    "TEST_SEEDS",
    "TRAIN_SEED_START",
    "check_report_seeds",
    "check_tuning_scenario",
    "held_out_scenarios",
    "report_seeds",
    "seed_split",
    "tuning_scenarios",
]

#: Seeds reserved for reporting: no policy may be tuned or trained on them.
TEST_SEEDS = range(0, 1000)
#: The first training seed; every seed from here on is for tuning, training and validation.
TRAIN_SEED_START = TEST_SEEDS.stop


def seed_split(seed: int) -> str:
    """``"test"`` or ``"train"`` for an episode seed.

    Raises:
        SplitError: the seed is negative (no split owns it).
    """
    if seed < 0:
        raise SplitError(f"seed {seed} is negative; episode seeds are >= 0", (seed,))
    return "test" if seed in TEST_SEEDS else "train"


def report_seeds(n: int, offset: int = 0) -> list[int]:
    """The ``n`` held-out seeds ``offset .. offset + n - 1`` used for reporting.

    Raises:
        SplitError: ``n`` < 1, ``offset`` < 0, or the range runs into the training seeds.
    """
    if n < 1:
        raise SplitError(f"seeds: need at least 1 seed; got {n}")
    if offset < 0:
        raise SplitError(f"seed offset: must be >= 0; got {offset}")
    seeds = list(range(offset, offset + n))
    check_report_seeds(seeds)
    return seeds


def check_report_seeds(seeds: Iterable[int], allow_train: bool = False) -> str:
    """Check that ``seeds`` may be reported on; return the split label for the output.

    Returns ``"test"`` when every seed is held out, ``"train"`` or ``"mixed"`` when
    ``allow_train`` let training seeds through.

    Raises:
        SplitError: a seed is negative, or (without ``allow_train``) lies in the training
            split; the message lists the seeds and says how to proceed.
    """
    seeds = list(seeds)
    splits = [seed_split(s) for s in seeds]
    train = tuple(s for s, sp in zip(seeds, splits, strict=True) if sp == "train")
    if train and not allow_train:
        shown = ", ".join(map(str, train[:8])) + (" ..." if len(train) > 8 else "")
        raise SplitError(
            f"seeds {shown} are training seeds ({TRAIN_SEED_START} and up, used to tune and "
            f"train policies); report on held-out seeds {TEST_SEEDS.start}-{TEST_SEEDS.stop - 1} "
            "(the default) or pass --allow-train-seeds to evaluate on training seeds anyway "
            "(the output is then labelled as such)",
            train,
        )
    if not train:
        return "test"
    return "train" if len(train) == len(seeds) else "mixed"


def held_out_scenarios() -> list[str]:
    """Shipped scenarios marked ``held_out: true`` (never used for tuning or training)."""
    from envs.scenario import load_scenario
    from scenarios import scenario_names

    return [n for n in scenario_names() if load_scenario(n).held_out]


def tuning_scenarios() -> list[str]:
    """Shipped scenarios that tuning and training may use (not held out, not ``large``)."""
    from scenarios import DEFAULT_EVAL_SCENARIOS

    held = set(held_out_scenarios())
    return [n for n in DEFAULT_EVAL_SCENARIOS if n not in held]


def check_tuning_scenario(name: str) -> None:
    """Raise :class:`SplitError` if ``name`` is a held-out scenario (by its ``held_out`` flag)."""
    from envs.scenario import load_scenario

    if load_scenario(name).held_out:
        raise SplitError(
            f"scenario {name!r} is held out (held_out: true) for transfer tests; "
            f"tune and train on {', '.join(tuning_scenarios())} instead"
        )
