"""Constrained decoding: a logits processor that only lets the model write the grammar.

The valid completions (:func:`policies.lm.grammar.all_completions`, each followed by the
end-of-sequence token) are tokenized with the model's own tokenizer and stored in a prefix
tree. At each generation step every row may only pick a token that continues a valid
completion from where the row is; all other logits are set to ``-inf``. The output is then
always in the grammar, whatever the prompt says, for any tokenizer whose tokenization of a
completion does not depend on the prompt before it (true for ours; for BPE tokenizers the
completion starts with a space, which keeps the boundary stable).

Before masking, the processor checks whether the row's own best token was allowed, and
marks the row when it was not (:attr:`GrammarMask.unmasked_invalid`): this is the
invalid-output rate the model would have without the mask, reported next to the rate after.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GrammarMask", "GrammarTrie", "require_vocabulary"]


def require_vocabulary(tokenizer: Any) -> None:
    """Refuse a tokenizer that cannot spell every grammar word and every prompt bucket word.

    A word-level tokenizer trained before the grammar or the prompt gained a word (a
    checkpoint from before the ``up=`` field, say) turns that word into its unknown token:
    decoding would silently confuse decisions, and prompts would lose a field. A subword
    tokenizer (a pretrained checkpoint's) spells every word and always passes.

    Raises:
        LMConfigError: naming the first unknown words, and saying to retrain.
    """
    from policies.lm.codec import LMCodec
    from policies.lm.grammar import all_completions

    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return
    grammar = {word for text in all_completions() for word in text.split(" ")}
    prompt = set(LMCodec.vocabulary_words()) - grammar
    unknown = [  # grammar words first: they are the ones that would confuse decisions
        w for words in (grammar, prompt) for w in sorted(words)
        if unk in tokenizer(w, add_special_tokens=False)["input_ids"]
    ]
    if unknown:
        from policies.lm.errors import LMConfigError

        raise LMConfigError(
            f"the checkpoint's tokenizer does not know the word(s) "
            f"{', '.join(unknown[:6])}{' ...' if len(unknown) > 6 else ''}; it was trained "
            "for an older grammar or prompt format: retrain it with `shopops train sft`"
        )


class GrammarTrie:
    """Prefix tree of the token ids of every valid completion (with EOS at the end).

    Node 0 is the root. ``allowed[node]`` lists the token ids that may follow; ``child``
    maps ``(node, token)`` to the next node; ``depth`` is the longest completion in tokens.

    Raises:
        LMConfigError: the tokenizer cannot spell a grammar or prompt word
            (:func:`require_vocabulary`).
    """

    def __init__(self, tokenizer: Any) -> None:
        from policies.lm.grammar import all_decisions, completion_text

        eos = tokenizer.eos_token_id
        require_vocabulary(tokenizer)
        self.child: dict[tuple[int, int], int] = {}
        self.allowed: list[list[int]] = [[]]
        self.depth = 0
        for d in all_decisions():
            ids = [*tokenizer(completion_text(d), add_special_tokens=False)["input_ids"], eos]
            self.depth = max(self.depth, len(ids))
            node = 0
            for tok in ids:
                key = (node, int(tok))
                nxt = self.child.get(key)
                if nxt is None:
                    nxt = len(self.allowed)
                    self.child[key] = nxt
                    self.allowed[node].append(int(tok))
                    self.allowed.append([])
                node = nxt
        self.eos = int(eos)


class GrammarMask:
    """A ``transformers`` logits processor enforcing :class:`GrammarTrie`.

    Args:
        trie: the completions' prefix tree.
        prompt_len: length of the (left-padded) prompt batch; generated tokens start there.
        vocab_size: size of the logits' last dimension.

    After generation, :attr:`unmasked_invalid` is a bool tensor over rows: True where the
    model's own top token left the grammar at some step (before the mask fixed it).
    """

    def __init__(self, trie: GrammarTrie, prompt_len: int, vocab_size: int) -> None:
        import torch

        self.trie = trie
        self.prompt_len = prompt_len
        n_nodes = len(trie.allowed)
        self.table = torch.zeros(n_nodes + 1, vocab_size, dtype=torch.bool)
        for node, toks in enumerate(trie.allowed):
            self.table[node, toks] = True
        self.table[n_nodes, :] = True  # finished rows: anything (generate pads them)
        self._done_node = n_nodes
        self._nodes: list[int] | None = None
        self.unmasked_invalid: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        batch = input_ids.shape[0]
        step = input_ids.shape[1] - self.prompt_len
        if step == 0 or self._nodes is None:
            self._nodes = [0] * batch
            self.unmasked_invalid = torch.zeros(batch, dtype=torch.bool)
        else:
            last = input_ids[:, -1].tolist()
            child, done = self.trie.child, self._done_node
            self._nodes = [
                done if n == done else child.get((n, t), done)
                for n, t in zip(self._nodes, last, strict=True)
            ]
        nodes = torch.tensor(self._nodes)
        allowed = self.table[nodes]
        top = scores.argmax(dim=-1)
        self.unmasked_invalid |= ~allowed.gather(1, top[:, None]).squeeze(1)
        return scores.masked_fill(~allowed, float("-inf"))
