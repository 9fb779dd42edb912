"""The documentation of an attrs class's fields, read from its source.

Two conventions that Sphinx's autodoc reads too: a string right after the
field (an attribute docstring), or `#:` comments on the lines above it or at
the end of its line. What the class's source does not say (a class made at
run time, a module without its .py) is simply not documented.
"""

from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize

__all__ = ["field_docs"]


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> its documentation, for the fields of `cls` that have some."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return {}
    if not tree.body or not isinstance(tree.body[0], ast.ClassDef):
        return {}
    body = tree.body[0].body
    lines = source.splitlines()
    docs: dict[str, str] = {}
    for index, node in enumerate(body):
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        after = body[index + 1] if index + 1 < len(body) else None
        if (
            isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
            continue
        comments = _comments_above(lines, node.lineno - 1)
        trailing = _doc_comment(lines[(node.end_lineno or node.lineno) - 1])
        if trailing:
            comments.append(trailing)
        if comments:
            docs[node.target.id] = " ".join(comments)
    return docs


def _comments_above(lines: list[str], first: int) -> list[str]:
    """The `#:` lines right above line index `first`, top to bottom."""
    found: list[str] = []
    index = first - 1
    while index >= 0 and lines[index].lstrip().startswith("#:"):
        found.insert(0, lines[index].lstrip()[2:].strip())
        index -= 1
    return found


def _doc_comment(line: str) -> str | None:
    """The text of a `#:` comment ending `line`, if it has one (a `#:` in a string is not)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, SyntaxError):  # a line of a longer statement
        return None
    for token in tokens:
        if token.type == tokenize.COMMENT and token.string.startswith("#:"):
            return token.string[2:].strip()
    return None
