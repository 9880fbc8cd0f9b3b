"""The language-model policy: a small causal LM reads each SKU's morning and writes its decision.

Modules (each one job; heavy imports such as torch and transformers only where used):

* :mod:`~policies.lm.grammar`: the completion grammar (``restock=c discount=p days=k``).
* :mod:`~policies.lm.codec`: view -> prompts, completions -> plan, expert plan -> decisions.
* :mod:`~policies.lm.tokenizer`: a word-level tokenizer trained on our own prompts.
* :mod:`~policies.lm.model`: a tiny Llama built from a config, or any local checkpoint.
* :mod:`~policies.lm.constrained`: the allowed-token mask that keeps output in the grammar.
* :mod:`~policies.lm.inference`: batched generation for all SKUs of a shop-day.
* :mod:`~policies.lm.policy`: :class:`~policies.lm.policy.LMPolicy` (the ``lm`` policy).
* :mod:`~policies.lm.demos`, :mod:`~policies.lm.sft`: expert demonstrations, TRL SFT.
* :mod:`~policies.lm.rewards`, :mod:`~policies.lm.rl`: simulator rewards, TRL GRPO (PPO-style).
* :mod:`~policies.lm.recipe`: the measured RL recipe (the defaults of ``train rl``).
* :mod:`~policies.lm.feedback`, :mod:`~policies.lm.reward_model`: preference pairs from the
  store, TRL reward model.
* :mod:`~eval.lm_bench`: decisions per second.
"""
