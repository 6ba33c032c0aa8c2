"""The shapes world: a procedurally drawn world of coloured shapes, its grammar, renderer and judge.

Everything here is shared by the training scripts, the tokenizer of the bundled models and the judge,
so that one vocabulary, written once in `grammar.py`, defines what a caption can say.
"""
