"""Command-line flags and YAML configuration, declared once.

Each component declares its settings as :class:`Option` rows. From them come
the argparse flags (Prometheus exporter style, ``--web.listen-address``), the
YAML keys (``web: {listen_address: ...}``) and the precedence: a flag given on
the command line beats the file, the file beats the default.

The file is read by :mod:`axonize.yaml_file` (bounded, no aliases, lines kept)
and checked by a pydantic model made from the rows (:func:`file_model`, through
:mod:`axonize.schema`), so file errors read ``FILE:LINE: KEY: PROBLEM``
(``exporter.yml:7: collect.interval: .nan is not a finite duration``); flag
errors read ``flag --collect.interval: PROBLEM``.

Errors: :class:`ConfigError` naming the file, line and key (``web.listen_address``)
for an unknown key, a value of the wrong type, or a bad duration or address.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, create_model

from . import schema, yaml_file
from .yaml_file import ConfigError

__all__ = ["ConfigError", "Option", "build_parser", "resolve", "load_file", "parse_duration", "parse_listen_address"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

#: Bounds of every duration setting (intervals, timeouts, refresh periods), seconds: 1 ms to 1 day.
#: Below 1 ms a loop would spin; above a day an interval is a typo (and ``1e308s`` would overflow timers).
MIN_DURATION = 0.001
MAX_DURATION = 86400.0


def parse_duration(text: Any, low: float = MIN_DURATION, high: float = MAX_DURATION) -> float:
    """A Prometheus-style duration (``"500ms"``, ``"15s"``, ``"1m30s"``) or a number of seconds -> seconds.

    The result is finite and within [``low``, ``high``] (default 1 ms to 1 day);
    ``.nan``, ``inf``, negatives, 0, ``100000000d`` and booleans raise ValueError.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration like '5s', '500ms' or '1m30s'")
    if isinstance(text, (int, float)):
        try:
            seconds = float(text)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    else:
        s = str(text).strip()
        if len(s) > 64:
            raise ValueError(f"{s[:20]!r}... ({len(s)} characters) is not a duration like '5s', '500ms' or '1m30s'")
        pos, seconds = 0, 0.0
        for m in _DURATION.finditer(s):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise ValueError(f"{text!r} is not a duration like '5s', '500ms' or '1m30s'")
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a finite duration")
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    if not low <= seconds <= high:
        raise ValueError(f"{text!r} is out of range: a duration must be between {_seconds(low)} and {_seconds(high)}")
    return seconds


def _seconds(value: float) -> str:
    for unit in ("d", "h", "m", "s"):
        if value >= _UNIT_SECONDS[unit] and (value / _UNIT_SECONDS[unit]).is_integer():
            return f"{value / _UNIT_SECONDS[unit]:g}{unit}"
    return f"{value * 1000:g}ms"


def parse_listen_address(text: str) -> tuple[str, int]:
    """``":9947"`` -> ("0.0.0.0", 9947); ``"127.0.0.1:9947"``; ``"[::1]:9947"``."""
    m = re.fullmatch(r"(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})", str(text).strip())
    if not m or not 0 <= int(m.group("port")) <= 65535:
        raise ValueError(f"{text!r} is not a listen address like ':9947' or '127.0.0.1:9947'")
    host = m.group("v6") or m.group("host") or "0.0.0.0"
    return host, int(m.group("port"))


_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR}


def parse_log_level(value: Any) -> int:
    """``"debug"``, ``"info"``, ``"warning"`` (``"warn"``) or ``"error"`` -> the :mod:`logging` level number."""
    if str(value).lower() not in _LOG_LEVELS:
        raise ValueError(f"{value!r} is not one of debug, info, warning, error")
    return _LOG_LEVELS[str(value).lower()]


def parse_positive_int(value: Any) -> int:
    """A positive integer from YAML (int) or a flag (digits); booleans and 0 are refused."""
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise ValueError(f"{value!r} is not a positive integer")
    return int(value)


@dataclass(frozen=True)
class Option:
    """One setting: ``flag`` (``--collect.interval``) <-> YAML key path ``collect.interval``.

    ``convert`` turns the raw value into the setting (raises ValueError on bad
    input). ``kind`` is "value", "list" (repeatable flag / YAML list) or "bool".
    ``yaml_key`` overrides the key derived from the flag, where the file reads
    better in the plural (``--target URL`` repeated <-> ``targets: [...]``).
    ``item`` is the pydantic type of one YAML list item before ``convert``
    (default: a string; a number or mapping in the list is an error naming it).
    """

    flag: str
    default: Any
    help: str
    convert: Callable[[Any], Any] = lambda v: v
    kind: str = "value"
    metavar: str | None = None
    yaml_key: str | None = None
    item: Any = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace(".", "_").replace("-", "_")

    @property
    def key(self) -> str:
        return self.yaml_key or self.flag.lstrip("-").replace("-", "_")


def build_parser(prog: str, description: str, options: Sequence[Option]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", "--config.file", dest="config", metavar="FILE", help="YAML configuration file; flags override it")
    for opt in options:
        if opt.kind == "bool":
            parser.add_argument(opt.flag, dest=opt.dest, action="store_true", default=None, help=opt.help)
        elif opt.kind == "list":
            parser.add_argument(opt.flag, dest=opt.dest, nargs="+", action="extend", default=None, metavar=opt.metavar, help=opt.help)
        else:
            parser.add_argument(opt.flag, dest=opt.dest, default=None, metavar=opt.metavar, help=f"{opt.help} (default: {opt.default})")
    return parser


def load_file(path: str, known: Sequence[str] = ()) -> yaml_file.Document:
    """Read a YAML configuration file (:func:`axonize.yaml_file.read`) into a flat document.

    ``{"collect": {"interval": "5s"}}`` and ``{"collect.interval": "5s"}`` both
    read as ``{"collect.interval": "5s"}`` (``-`` in keys reads as ``_``); a
    mapping under a key in ``known`` stays whole (a list option given a
    mapping is then an error about that key). Lines follow the keys.
    Raises :class:`ConfigError`.
    """
    doc = yaml_file.read(path)
    if doc.data is None:
        return yaml_file.Document({}, doc.where, {})
    if not isinstance(doc.data, dict):
        line = doc.line(())
        raise ConfigError(f"{doc.where}{f':{line}' if line else ''}: top level: expected a mapping, got {schema.shown(doc.data)}")
    flat: dict[str, Any] = {}
    origin: dict[tuple, str] = {}  # location in the file -> flat key

    def walk(data: dict, loc: tuple, prefix: str) -> None:
        for key, value in data.items():
            if not isinstance(key, str):
                line = doc.line(loc + (key,))
                raise ConfigError(f"{doc.where}{f':{line}' if line else ''}: {prefix or 'top level'}: key {key!r} is not a string")
            sub = f"{prefix}.{key}" if prefix else key
            name = sub.replace("-", "_")
            if isinstance(value, dict) and name not in known:
                walk(value, loc + (key,), sub)
            else:
                flat[name] = value
                origin[loc + (key,)] = name

    walk(doc.data, (), "")
    lines = {}
    for loc, line in doc.lines.items():
        for cut in range(len(loc), 0, -1):
            if loc[:cut] in origin:
                lines[(origin[loc[:cut]],) + loc[cut:]] = line
                break
    return yaml_file.Document(flat, doc.where, lines)


def _converting(opt: Option, convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is None:  # `key:` with nothing after it: not set, the default (or the flag) applies
            return None
        try:
            return convert(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(str(exc)) from None

    return check


def file_model(options: Sequence[Option], name: str = "ConfigFile") -> type[schema.Section]:
    """The pydantic model of a configuration file with these options: one field per option, by its YAML key.

    A field holds the converted setting, or None when the file does not set it.
    """
    fields: dict[str, Any] = {}
    for opt in options:
        if opt.kind == "list":
            item = opt.item if opt.item is not None else schema.String
            typ = list[Annotated[item, AfterValidator(_converting(opt, opt.convert))]] | None
        elif opt.kind == "bool":
            typ = Annotated[bool | None, BeforeValidator(_converting(opt, _boolean))]
        else:
            typ = Annotated[Any, BeforeValidator(_converting(opt, opt.convert))]
        fields[opt.dest] = (typ, Field(None, alias=opt.key))
    return create_model(name, __base__=schema.Section, **fields)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {schema.shown(value)}")
    return value


def _convert(opt: Option, raw: Any, where: str) -> Any:
    """A flag's (or the default's) value converted; raises ConfigError prefixed with ``where``."""
    try:
        if opt.kind == "list":
            return [opt.convert(v) for v in (raw or [])]
        if opt.kind == "bool":
            return _boolean(raw)
        return opt.convert(raw) if raw is not None else None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def resolve(options: Sequence[Option], args: argparse.Namespace) -> dict[str, Any]:
    """Merge defaults < YAML file < flags into ``{dest: value}``; raises :class:`ConfigError`.

    Every value in the file is checked, even when a flag overrides it: a bad file is an error.
    """
    from_file: dict[str, Any] = {}
    if getattr(args, "config", None):
        doc = load_file(args.config, known=[opt.key for opt in options])
        from_file = dict(iter(schema.validate(file_model(options), doc)))
    settings: dict[str, Any] = {}
    for opt in options:
        settings[opt.dest] = _convert(opt, opt.default, "default")
        if from_file.get(opt.dest) is not None:
            settings[opt.dest] = from_file[opt.dest]
        flag_value = getattr(args, opt.dest, None)
        if flag_value is not None:
            settings[opt.dest] = _convert(opt, flag_value, f"flag {opt.flag}")
    return settings


def web_options(default_port: int) -> tuple[Option, ...]:
    """The HTTP flags every Axonize component shares: listen address, telemetry path, web config file."""
    return (
        Option("--web.listen-address", f":{default_port}", "address to listen on for HTTP", parse_listen_address, metavar="[HOST]:PORT"),
        Option("--web.telemetry-path", "/metrics", "path under which to expose metrics", str, metavar="PATH"),
        Option("--web.config.file", "", "exporter-toolkit web configuration (TLS, basic auth) file", str, metavar="FILE"),
    )


LOG_LEVEL_OPTION = Option("--log.level", "info", "log level: debug, info, warning, error", parse_log_level, metavar="LEVEL")
