"""The schemas of a platform's options, from the fields of its `options` attrs class.

A field's type comes from its annotation (`str`, `int`, `float`, `bool`,
`Literal[...]`, an `Enum`, `X | None`, `tuple[X, ...]`, `list[X]`,
`dict[str, X]`; anything else takes any value); its description from its
`metadata["description"]`, else its docstring or `#:` comments
(`_field_docs`), else the class docstring. `metadata["json_schema"]` replaces
the schema derived from the type: for a converter that accepts more than the
annotation says, or values the annotation does not list.
"""

from __future__ import annotations

import contextlib
import enum
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._key_schemas import Schema

__all__ = ["option_schemas"]


def option_schemas(cls: type, platform: str, plugin: str) -> dict[str, Schema]:
    """builds.toml key -> schema, for the fields of an options attrs class."""
    from ._field_docs import field_docs

    # A name only the plugin's type checker sees leaves its field untyped.
    with contextlib.suppress(Exception):
        attrs.resolve_types(cls)
    docs = field_docs(cls)
    heading = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    found: dict[str, Schema] = {}
    for field in attrs.fields(cls):
        if not field.init:
            continue
        key = field.name.replace("_", "-")
        given = field.metadata.get("json_schema")
        schema: Schema = dict(given) if isinstance(given, Mapping) else _value(field.type)
        text = field.metadata.get("description", docs.get(field.name))
        parts = [text if isinstance(text, str) else heading]
        default = _default(field)
        if default is attrs.NOTHING:
            parts.append("Required (here or in [defaults]).")
        elif default is not None:
            schema["default"] = default
            parts.append(f"Default: {json.dumps(default)}.")
        parts.append(f"(An option of platform `{platform}`, from plugin {plugin}.)")
        schema["description"] = " ".join(p for p in parts if p)
        found[key] = schema
    return found


def _default(field: attrs.Attribute[Any]) -> Any:
    """The field's default as TOML would write it; None when it has no such value."""
    default = field.default
    if default is attrs.NOTHING:
        return attrs.NOTHING
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        factory: Any = default
        if factory.takes_self:
            return None
        try:
            default = factory.factory()
        except Exception:  # noqa: BLE001 - a factory that needs more than nothing: no default
            return None
    plain = _plain(default)
    try:
        json.dumps(plain)
    except (TypeError, ValueError):
        return None
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list | frozenset | set):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


_SCALARS: dict[Any, Schema] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
}


def _value(kind: Any) -> Schema:
    """The schema of a value of type `kind`; {} (anything) for a type it cannot say."""
    if kind in _SCALARS:
        return dict(_SCALARS[kind])
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union or origin is types.UnionType:
        # TOML has no null: an optional option is one left out.
        kinds = [_value(a) for a in args if a is not type(None)]
        return kinds[0] if len(kinds) == 1 else {"anyOf": kinds}
    if origin is typing.Literal:
        return {"enum": [_plain(a) for a in args]}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return {"enum": [m.value for m in kind]}
    if origin in (tuple, list, set, frozenset, Sequence):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if not args:
                return {"type": "array"}
            return {
                "type": "array",
                "items": [_value(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        return {"type": "array", "items": _value(args[0])} if args else {"type": "array"}
    if origin in (dict, Mapping):
        value = _value(args[1]) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": value}
    if isinstance(kind, type) and attrs.has(kind):
        return {"type": "object"}
    return {}
