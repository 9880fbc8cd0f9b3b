"""Reading texts into directives with a small language model.

:mod:`policies.llm.names` resolves the names people write ("Dry Goods Co.", "our
electronics range", "item #electronics-24") to the shop's catalogue names;
:mod:`policies.llm.corpus` writes a synthetic, labelled corpus of notices in many styles,
split into training styles and held-out styles, to fine-tune and to measure a reader.

This package imports nothing heavy: modules that need ``torch`` or ``transformers`` import
them themselves, so the names and the corpus stay usable without them.
"""
