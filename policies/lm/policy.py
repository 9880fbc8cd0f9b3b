"""The ``lm`` policy: a small causal LM decides every SKU of the shop each morning.

Each day, :class:`LMPolicy` writes one prompt per SKU (:class:`~policies.lm.codec.LMCodec`),
generates all completions in batched ``generate`` calls (greedy, with the grammar mask by
default), parses them strictly and decodes them into a plan with the SKU's own numbers.
An invalid completion becomes the safe action (no order, no price change) and is counted in
:attr:`LMPolicy.stats`; it is never executed as written.

The model comes from a local checkpoint folder: the shipped one
(``policies/lm/checkpoints/default``, made by ``shopops train rl`` from the imitation
checkpoint ``policies/lm/checkpoints/sft``, itself made by ``shopops train sft``; its
``RECORD.md`` and ``train_record.json`` give the commands, seeds, data and budget), or any
folder given as ``path`` (another checkpoint of ``shopops train sft`` / ``train rl``, or a
user's Hugging Face model).
The policy is non-anticipating: it reads only the view and static facts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envs.plan import PlanArrays
from envs.simulator import MarketSimulator, ShopView
from policies.lm.codec import DecodeStats, LMCodec
from policies.lm.grammar import Decision

__all__ = ["DEFAULT_CHECKPOINT", "LMPolicy"]

#: The checkpoint shipped with the project (small: ~0.7M parameters in safetensors).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "default"


class LMPolicy:
    """Decide restocks and promotions with a causal language model.

    Args:
        path: checkpoint folder (default: the shipped one).
        model: an already loaded model (with ``tokenizer``) instead of ``path``.
        tokenizer: the model's tokenizer.
        constrained: mask tokens outside the grammar while generating (recommended).
        do_sample: sample instead of greedy decoding (``temperature`` applies).
        temperature: sampling temperature.
        batch_size: prompts per ``generate`` call.
        threads: torch CPU threads while deciding (``None``: leave torch's setting).
        product_names: names to show in prompts instead of SKU ids (untrusted text).

    Raises:
        LMArtifactError: the checkpoint folder is missing or unreadable (at first use).
    """

    name = "lm"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        model: Any = None,
        tokenizer: Any = None,
        constrained: bool = True,
        do_sample: bool = False,
        temperature: float = 1.0,
        batch_size: int = 1024,
        threads: int | None = None,
        product_names: list[str] | None = None,
    ) -> None:
        from policies.lm.errors import LMConfigError

        if (model is None) != (tokenizer is None):
            raise LMConfigError("LMPolicy: pass both model and tokenizer, or neither")
        if batch_size < 1:
            raise LMConfigError(f"LMPolicy.batch_size must be >= 1; got {batch_size}")
        self.path = Path(path) if path is not None else DEFAULT_CHECKPOINT
        self.model = model
        self.tokenizer = tokenizer
        self.constrained = constrained
        self.do_sample = do_sample
        self.temperature = temperature
        self.batch_size = batch_size
        self.threads = threads
        self.product_names = product_names
        self.stats = DecodeStats()
        self._given_model = model is not None
        self._version: str | None = None
        self._trie: Any = None
        self.codec: LMCodec | None = None

    @property
    def version(self) -> str:
        """The checkpoint's version: the first 12 hex digits of the SHA-256 of its weights
        file (what ``shopops train register-lm`` records), or ``"in-memory"``."""
        if self._version is None:
            weights = self.path / "model.safetensors"
            if self._given_model or not weights.exists():
                self._version = "in-memory"
            else:
                import hashlib

                self._version = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
        return self._version

    def _ensure_model(self) -> None:
        if self.model is None:
            from policies.lm.model import load_lm

            self.model, self.tokenizer = load_lm(self.path)
        if self._trie is None:
            from policies.lm.constrained import GrammarTrie

            self._trie = GrammarTrie(self.tokenizer)

    def reset(self, sim: MarketSimulator) -> None:
        self._ensure_model()
        self.codec = LMCodec(sim)
        self._sim_id = id(sim)

    def completions(self, prompts: list[str]) -> Any:
        """Generate completions for ``prompts`` with this policy's settings."""
        import torch

        from policies.lm.inference import generate_completions

        self._ensure_model()
        old = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            return generate_completions(
                self.model,
                self.tokenizer,
                prompts,
                constrained=self.constrained,
                do_sample=self.do_sample,
                temperature=self.temperature,
                batch_size=self.batch_size,
                trie=self._trie,
            )
        finally:
            if self.threads:
                torch.set_num_threads(old)

    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        if self.codec is None or self._sim_id != id(sim):
            self.reset(sim)
        codec = self.codec if self.codec is not None else LMCodec(sim)
        prompts = codec.prompts(view, names=self.product_names)
        gen = self.completions(prompts)
        self.stats.invalid_unmasked += sum(gen.unmasked_invalid)
        decisions = codec.parse(gen.texts)
        self._last = (view.sku_ids, prompts, gen.texts, decisions, view)
        return codec.decode(decisions, view, self.stats)

    @property
    def last_decisions(self) -> list[Decision | None]:
        """What the last :meth:`act` decided per SKU (``None``: outside the grammar, carried
        out as the safe action)."""
        last = getattr(self, "_last", None)
        return [] if last is None else list(last[3])

    def decision_trace(self) -> dict[str, dict[str, Any]]:
        """What the model read and wrote for each SKU in the last :meth:`act`:
        ``{sku: {"lm_prompt": ..., "lm_decision": ..., "lm_advice": ..., "lm_basis": {...}}}``
        (empty before the first act). ``lm_advice`` is the tuned heuristic's decision the
        prompt carried (``"restock=3 discount=0"``), so a reviewer sees whether the model
        keeps or departs from the team's rule; ``lm_basis`` is :meth:`LMCodec.basis`, the
        numbers that read an edit in units as a decision.

        The agent's plan node stores this with each proposed line, so approvals, edits and
        outcomes of the actions can later train the policy (``policies.lm.feedback``).
        """
        last = getattr(self, "_last", None)
        if last is None:
            return {}
        skus, prompts, texts, _, view = last
        # computed here, not in act: only the agent asks, rollouts and evaluations do not
        basis = LMCodec.basis(view, self.codec.forecast(view))
        return {
            sku: {
                "lm_prompt": p,
                "lm_decision": t.strip(),
                "lm_advice": LMCodec.advice_text(p),
                "lm_basis": b,
            }
            for sku, p, t, b in zip(skus, prompts, texts, basis, strict=True)
        }
