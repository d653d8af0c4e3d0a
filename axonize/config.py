"""Command-line flags and YAML configuration, declared once.

Each component declares its settings as :class:`Option` rows. From them come
the argparse flags (Prometheus exporter style, ``--web.listen-address``), the
YAML keys (``web: {listen_address: ...}``) and the precedence: a flag given on
the command line beats the file, the file beats the default.

Errors: :class:`ConfigError` naming the file and the key (``web.listen_address``)
for an unknown key, a value of the wrong type, or a bad duration or address.
"""
from __future__ import annotations

import argparse
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import yaml


class ConfigError(ValueError):
    """A bad configuration file or flag value; the message names the place and key."""


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: Any) -> float:
    """A Prometheus-style duration (``"500ms"``, ``"15s"``, ``"1m30s"``) or a number of seconds -> seconds (> 0)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        s = str(text).strip()
        pos, seconds = 0, 0.0
        for m in _DURATION.finditer(s):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise ValueError(f"{text!r} is not a duration like '5s', '500ms' or '1m30s'")
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    return seconds


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
    """

    flag: str
    default: Any
    help: str
    convert: Callable[[Any], Any] = lambda v: v
    kind: str = "value"
    metavar: Optional[str] = None
    yaml_key: Optional[str] = None

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


def _flatten(data: Any, path: str, out: dict[str, tuple[Any, str]]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                raise ConfigError(f"{path or 'top level'}: key {key!r} is not a string")
            sub = f"{path}.{key}" if path else key
            if isinstance(value, dict):
                _flatten(value, sub, out)
            else:
                out[sub.replace("-", "_")] = (value, sub)
    else:
        raise ConfigError(f"{path or 'top level'}: expected a mapping, got {type(data).__name__}")


def load_file(path: str) -> dict[str, tuple[Any, str]]:
    """Read a YAML file into ``{"collect.interval": (value, key as written)}``."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    out: dict[str, tuple[Any, str]] = {}
    try:
        _flatten(data, "", out)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return out


def _convert(opt: Option, raw: Any, where: str) -> Any:
    try:
        if opt.kind == "list":
            if raw is None:
                return []
            if not isinstance(raw, list):
                raise ValueError(f"expected a list, got {raw!r}")
            return [opt.convert(v) for v in raw]
        if opt.kind == "bool":
            if not isinstance(raw, bool):
                raise ValueError(f"expected true or false, got {raw!r}")
            return raw
        return opt.convert(raw) if raw is not None else None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def resolve(options: Sequence[Option], args: argparse.Namespace) -> dict[str, Any]:
    """Merge defaults < YAML file < flags into ``{dest: value}``; raises :class:`ConfigError`."""
    from_file = load_file(args.config) if getattr(args, "config", None) else {}
    known = {opt.key: opt for opt in options}
    for key, (_, written) in from_file.items():
        if key not in known:
            raise ConfigError(f"{args.config}: unknown key {written!r}; known keys: {', '.join(sorted(known))}")
    settings: dict[str, Any] = {}
    for opt in options:
        settings[opt.dest] = _convert(opt, opt.default, "default")
        if opt.key in from_file:  # checked even when a flag overrides it: a bad file is an error
            value, written = from_file[opt.key]
            settings[opt.dest] = _convert(opt, value, f"{args.config}: key {written!r}")
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
