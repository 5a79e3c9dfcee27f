"""Ground truth for tests and the benchmark: the Yi-34B refactor of a modeling file, done by code.

Not part of the method: it manufactures the case the method must catch (issue 14 moves it to the zoo).
"""

from __future__ import annotations

import ast


def yi_style_refactor(text: str, old: str = "Llama", new: str = "Yi") -> str:
    """The Yi-34B transformation of a modeling file, as ground truth for tests and the benchmark:
    classes renamed (``Llama`` -> ``Yi``), ``input_layernorm``/``post_attention_layernorm`` renamed
    ``ln1``/``ln2``, comments, docstrings and the licence header dropped, code reformatted (through
    ``ast.unparse``, which also rewrites quotes, parentheses and line breaks)."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    out = ast.unparse(tree)
    out = out.replace(old, new).replace(old.upper(), new.upper()).replace(old.lower(), new.lower())
    return out.replace("post_attention_layernorm", "ln2").replace("input_layernorm", "ln1")
