"""The one validation layer of configuration files: pydantic v2 models fed by :mod:`axonize.yaml_file`.

A file's shape is a :class:`Section` model (unknown keys refused, naming the
ones known); :func:`validate` checks a :class:`~axonize.yaml_file.Document`
against it and turns a :class:`pydantic.ValidationError` into one
:class:`~axonize.yaml_file.ConfigError` whose lines read
``FILE:LINE: KEY.PATH: PROBLEM``, the first error first::

    exporter.yml:7: collect.interval: .nan is not a finite duration
    rules.yml:12: prices.gpus[2].dollars_per_hour: must be a number >= 0, got 'cheap'

A validator explains a bad value by raising ``ValueError("must be ...")``; the
message is used as written. :func:`problem` raises an error about a key inside
the value being validated (``unknown key``), so the message still names it.

The reusable field types here (:data:`NonNegative`, :data:`Text`, ...) carry
their own messages, so a file's model is a list of typed fields.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterable
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from .yaml_file import ConfigError, Document, Loc

M = TypeVar("M", bound=BaseModel)

#: At most this many errors are listed in one ConfigError (the first is the one to fix first).
MAX_LISTED = 10


def shown(value: Any) -> str:
    """A value as an error message shows it: ``'cheap'``, ``1.5``, ``nothing`` for None, ``a mapping``."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return f"a mapping {_short(value)}"
    if isinstance(value, list):
        return f"a list {_short(value)}"
    return _short(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def key_path(loc: Iterable) -> str:
    """``("prices", "gpus", 2, "match")`` -> ``"prices.gpus[2].match"``; ``()`` -> ``"top level"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "top level"


def problem(message: str, *, key: Any = None) -> PydanticCustomError:
    """An error to raise in a validator: ``message`` as written; with ``key``, about that key of the value."""
    return PydanticCustomError("axonize", "{message}", {"message": message, "key": key})


def _message(err: dict) -> tuple[Loc, str]:
    """(location, message) of one pydantic error, with the wording of this project's errors."""
    loc = tuple(err["loc"])
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "axonize":
        if ctx.get("key") is not None:
            loc += (ctx["key"],)
        return loc, ctx["message"]
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return loc, str(ctx["error"])
    if kind == "missing":
        return loc, "missing"
    if kind == "extra_forbidden":
        return loc, "unknown key"
    if kind in ("list_type", "tuple_type"):
        return loc, f"must be a list, got {shown(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return loc, f"must be a mapping, got {shown(value)}"
    if kind in ("string_type", "string_sub_type"):
        return loc, f"must be a string, got {shown(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return loc, f"must be true or false, got {shown(value)}"
    if kind.startswith(("int_", "float_")):
        return loc, f"must be a number, got {shown(value)}"
    return loc, f"{err['msg']}, got {shown(value)}"


def errors_of(exc: ValidationError, doc: Document, at: Loc = ()) -> ConfigError:
    """The :class:`ConfigError` for a ValidationError of ``doc`` (its data under ``at``): FILE:LINE: KEY: PROBLEM."""
    lines = []
    errors = exc.errors(include_url=False)
    for err in errors[:MAX_LISTED]:
        loc, message = _message(err)
        loc = at + loc
        line = doc.line(loc)
        lines.append(f"{doc.where}{f':{line}' if line else ''}: {key_path(loc)}: {message}")
    if len(errors) > MAX_LISTED:
        lines.append(f"{doc.where}: ... and {len(errors) - MAX_LISTED} more")
    return ConfigError("\n".join(lines))


def validate(model: type[M], doc: Document, at: Loc = (), context: dict | None = None) -> M:
    """Check ``doc.data`` (or its part under ``at``) against ``model``; raises :class:`ConfigError` naming file, line, key."""
    data = doc.data
    for part in at:
        data = data.get(part) if isinstance(data, dict) else None
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise errors_of(exc, doc, at) from None


class Section(BaseModel):
    """A mapping of a configuration file: keys are the fields (by alias), unknown keys are errors.

    ``None`` (a key written with nothing after it) reads as an empty mapping
    when :attr:`empty_is_none_ok`. Override :meth:`unknown_key` to explain a key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, arbitrary_types_allowed=True)

    #: Whether ``key:`` with no value means an empty mapping (every field defaulted).
    empty_is_none_ok: ClassVar[bool] = False

    @classmethod
    def keys(cls) -> list[str]:
        """The keys of this mapping, as written in the file."""
        return [f.alias or name for name, f in cls.model_fields.items()]

    @classmethod
    def unknown_key(cls, key: str) -> str:
        """The message for a key that is not one of :meth:`keys`."""
        return f"unknown key; known keys: {', '.join(cls.keys())}"

    @classmethod
    def coerce(cls, data: Any) -> Any:
        """The mapping to check, from what the file holds (override to accept a short form, e.g. a string)."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        if isinstance(data, BaseModel):
            return data
        data = cls.coerce(data)
        if data is None and cls.empty_is_none_ok:
            return {}
        if not isinstance(data, dict):
            raise problem(f"must be a mapping, got {shown(data)}")
        known = set(cls.keys())
        for key in data:
            if not isinstance(key, str):
                raise problem(f"key {key!r} is not a string (quote it)", key=key)
            if key not in known:
                raise problem(cls.unknown_key(key), key=key)
        return data


# --- field types with their messages ---------------------------------------------------------


def _checked(check: Callable[[Any], Any]) -> Any:
    return BeforeValidator(check)


def _non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"must be a number >= 0, got {shown(value)}")
    return float(value)


def _optional_non_negative(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"must be a number >= 0 or null, got {shown(value)}")
    return float(value)


def _text(value: Any) -> str:
    if isinstance(value, datetime.date):  # YAML reads an unquoted 2026-08-01 as a date
        value = value.isoformat()
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {shown(value)}")
    return value


def _optional_text(value: Any) -> str:
    if isinstance(value, datetime.date):
        value = value.isoformat()
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {shown(value)}")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {shown(value)}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {shown(value)}")
    return value


#: A finite number >= 0 (not a boolean), as a float.
NonNegative = Annotated[float, _checked(_non_negative)]
#: A finite number >= 0 or null (None).
OptionalNonNegative = Annotated[float | None, _checked(_optional_non_negative)]
#: A non-empty string; an unquoted YAML date reads as its ISO text.
Text = Annotated[str, _checked(_text)]
#: A string, "" for null; an unquoted YAML date reads as its ISO text.
OptionalText = Annotated[str, _checked(_optional_text)]
#: Any string (no conversion from numbers or booleans).
String = Annotated[str, _checked(_string)]
#: true or false (not 0/1, not "yes").
Boolean = Annotated[bool, _checked(_boolean)]
