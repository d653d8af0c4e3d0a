"""axonize.yaml_file: the one reader of configuration files, bounded, line-aware, refusing what could hang or explode."""

import os
import threading
import time
import tracemalloc

import pytest

from axonize import yaml_file
from axonize.yaml_file import ConfigError

# The classic "billion laughs": 9 levels of 9 aliases, 342 bytes that would expand to 9**9 strings.
BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def test_data_and_the_line_of_every_key_and_item(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("# comment\ncollect:\n  interval: 5s\nreplay:\n  - a.txt\n  - b.txt\nprint: true\nwhen: 2026-11-01\n")
    doc = yaml_file.read(path)
    assert doc.where == str(path)
    assert doc.data["collect"] == {"interval": "5s"} and doc.data["replay"] == ["a.txt", "b.txt"] and doc.data["print"] is True
    assert doc.line(("collect", "interval")) == 3 and doc.line(("replay", 1)) == 6 and doc.line(("print",)) == 7
    assert doc.line(("collect", "interval", "deeper")) == 3  # the nearest enclosing key
    assert yaml_file.read(tmp_path / "exporter.yml", where="shown.yml").where == "shown.yml"


@pytest.mark.parametrize(
    "text, message",
    [
        (BOMB, "x.yml:1: not valid YAML: YAML anchors and aliases (&a) are not supported here"),
        ("replay:\n  - *undefined\n", "x.yml:2: not valid YAML: YAML anchors and aliases (*undefined)"),
        ("a: 1\nb:\n  c: 2\n  c: 3\n", "x.yml:4: not valid YAML: duplicate key 'c'"),
        ("base: {a: 1}\nother:\n  <<: {b: 2}\n", "x.yml:3: not valid YAML: '<<' merge keys are not supported here"),
        ("? [a, b]\n: 1\n", "x.yml:1: not valid YAML: a key must be a plain value"),
        ("a: !!python/object/apply:os.system ['true']\n", "x.yml:1: not valid YAML: the tag"),
        ("a: 1\n---\nb: 2\n", "x.yml:2: not valid YAML: expected a single document"),
        ("a: [1, 2\n", "x.yml:2: not valid YAML"),
        ("a: 1\nb: \x07\n", "x.yml:2: not valid YAML: character #x0007 is not allowed"),
        ("[" * 100_000, "x.yml:1: not valid YAML"),
    ],
)
def test_refused_yaml_names_file_and_line(text, message):
    with pytest.raises(ConfigError) as err:
        yaml_file.parse(text, "x.yml")
    assert str(err.value).startswith(message), str(err.value)


def test_an_alias_bomb_fails_at_once_in_bounded_memory():
    assert len(BOMB) <= 414  # a few hundred bytes
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConfigError, match=r"^bomb.yml:1: "):
            yaml_file.parse(BOMB.encode(), "bomb.yml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1 and peak < 1024 * 1024


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "bin.yml:3: not a text file: a NUL byte at byte offset 8"),
        (b"a: 1\nb: caf\xe9\n", "bin.yml:2: not UTF-8 text: byte 0xe9 at byte offset 11"),
    ],
)
def test_binary_and_non_utf8_files_are_named_with_line_and_offset(tmp_path, content, message):
    path = tmp_path / "bin.yml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        yaml_file.read(path, where="bin.yml")
    assert str(err.value).startswith(message)


def test_size_limit(tmp_path):
    path = tmp_path / "big.yml"
    path.write_text("a: " + "x" * 200 + "\n")
    assert yaml_file.read(path, max_bytes=204).data == {"a": "x" * 200}
    with pytest.raises(ConfigError, match=rf"^{path}: cannot read: 204 bytes is over the limit of 203 bytes"):
        yaml_file.read(path, max_bytes=203)
    assert yaml_file.MAX_BYTES == 4 * 1024 * 1024


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_error(lambda: yaml_file.read(fifo))), daemon=True)
    reader.start()
    reader.join(5)
    assert outcome == [f"{fifo}: cannot read: not a regular file (a FIFO); give a YAML file"], "a FIFO must not block the reader"
    assert (
        _error(lambda: yaml_file.read("/dev/zero")) == "/dev/zero: cannot read: not a regular file (a character device); give a YAML file"
    )
    assert _error(lambda: yaml_file.read(tmp_path)).endswith("not a regular file (a directory); give a YAML file")
    assert _error(lambda: yaml_file.read(tmp_path / "missing.yml")) == f"{tmp_path / 'missing.yml'}: cannot read: No such file or directory"


def test_empty_file_reads_as_none(tmp_path):
    (tmp_path / "e.yml").write_text("# nothing\n")
    assert yaml_file.read(tmp_path / "e.yml").data is None


def _error(call) -> str:
    try:
        call()
    except ConfigError as exc:
        return str(exc)
    return "no error"
