"""Validating a build's platform keys against its builder's `options` attrs class.

Keys are kebab-case in builds.toml and map to snake_case fields. Fields with
an attrs converter are converted by it (its TypeError or ValueError becomes the
message); other fields are structured by cattrs with strict scalars, so that
`retries = "3"` is an error rather than a silent conversion.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, cast

import attrs

from .._toml import describe

__all__ = ["OptionProblem", "field_keys", "structure_options", "unstructure"]


@attrs.frozen
class OptionProblem:
    key: str | None  # None: a problem with the options as a whole
    message: str


def field_keys(cls: type) -> dict[str, attrs.Attribute[Any]]:
    """builds.toml key (kebab-case) -> attrs field."""
    return {f.name.replace("_", "-"): f for f in attrs.fields(cls) if f.init}


def _strict(kind: type) -> Any:
    def hook(value: Any, _: type) -> Any:
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise TypeError(f"expected {_type_word(kind)}, got {describe(value)}")
        return value

    return hook


def _type_word(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        kind, kind.__name__
    )


@functools.cache
def _converter() -> Any:
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=True, prefer_attrib_converters=True)
    for kind in (str, int, float, bool):
        conv.register_structure_hook(kind, _strict(kind))
    return conv


def _error_text(exc: BaseException) -> str:
    try:
        import cattrs
    except ImportError:  # pragma: no cover
        return str(exc)
    if isinstance(exc, cattrs.BaseValidationError):
        lines = cattrs.transform_error(exc, path="")
        return "; ".join(lines)
    return str(exc)


def _validate_field(field: attrs.Attribute[Any], value: Any) -> None:
    """Run a field's attrs validator on its own, so its error names the key.

    Validators get no instance here; one that needs it raises something other
    than TypeError or ValueError, which is ignored: the class still validates
    the whole object afterwards.
    """
    if field.validator is None:
        return
    try:
        field.validator(None, field, value)
    except (TypeError, ValueError):
        raise
    except Exception:  # noqa: BLE001 - an instance-dependent validator: checked later
        return


def structure_options(cls: type, raw: Mapping[str, Any]) -> tuple[Any, list[OptionProblem]]:
    """An instance of `cls` from raw builds.toml keys, or the problems found."""
    attrs.resolve_types(cls)
    fields = field_keys(cls)
    problems: list[OptionProblem] = []
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        field = fields.get(key)
        if field is None:
            problems.append(OptionProblem(key, "unknown option"))
            continue
        try:
            init_name = field.alias or field.name
            if field.converter is not None:
                convert = cast("Callable[[Any], Any]", field.converter)
                converted = convert(value)  # for its error message; the class converts again
                kwargs[init_name] = value
            else:
                converted = kwargs[init_name] = _converter().structure(value, field.type)
            _validate_field(field, converted)
        except Exception as exc:  # noqa: BLE001 - any structuring error is the user's to fix
            problems.append(OptionProblem(key, _error_text(exc)))
    for key, field in fields.items():
        if key not in raw and field.default is attrs.NOTHING:
            problems.append(OptionProblem(key, "required option is missing"))
    if problems:
        return None, problems
    try:
        return cls(**kwargs), []
    except (TypeError, ValueError) as exc:
        return None, [OptionProblem(None, str(exc))]


def unstructure(options: Any) -> Any:
    """Options as plain data with builds.toml's kebab-case keys (for list --json, cache keys)."""
    if attrs.has(type(options)):
        return {
            f.name.replace("_", "-"): _plain(getattr(options, f.name))
            for f in attrs.fields(type(options))
        }
    if isinstance(options, Mapping):
        return {k: _plain(v) for k, v in options.items()}
    return _plain(options)


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return unstructure(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
