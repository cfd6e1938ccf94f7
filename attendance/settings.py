"""Settings read from TOML: a schema of documented defaults, strict checks, messages with the
file, line and key, and the defaults file generated from the schema.

The one reader of every settings file of the project: the kiosk's config.toml and boot override
(kiosk/config.py), the collector's (server/config.py) and the attendance rules' sections both
share (attendance/config.py, whose Section objects the kiosk's schema holds).
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


class SettingsError(ValueError):
    """A settings file is unreadable or holds a bad value; the message names where."""


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    doc: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    pattern: str | None = None
    validate: Callable[[Any], str | None] | None = None  # extra check for lists and tables
    secret: bool = False  # never repeat the value in a message

    def check(self, value: Any) -> str | None:
        """Why `value` is not acceptable, or None."""
        want = type(self.default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not want:
            names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
                     list: "a list [...]", dict: "a table {...}"}
            return f"must be {names.get(want, want.__name__)}, got {names.get(type(value), type(value).__name__)} " \
                   f"{value!r}"
        if self.lo is not None and value < self.lo or self.hi is not None and value > self.hi:
            return f"= {value!r} is out of range ({self.lo} to {self.hi})"
        if self.choices and value not in self.choices:
            return f"= {value!r} is not one of {', '.join(map(repr, self.choices))}"
        if self.pattern and not re.fullmatch(self.pattern, value):
            return f"= {value!r} does not match the pattern {self.pattern}"
        problem = self.validate(value) if self.validate else None
        if problem:
            return problem if self.secret else f"= {value!r}: {problem}"
        return None


@dataclass(frozen=True)
class Section:
    title: str
    settings: list[Setting]
    # named tables ([schedules.NAME]): the defaults' tables by name; each table a user adds
    # takes a setting's default for every key it leaves out
    named: dict[str, dict] | None = None
    # called with (table, what the file gave) for a named table the defaults do not have
    new_table: Callable[[dict, dict], None] | None = None


def section_defaults(section: Section) -> dict[str, Any]:
    return {s.key: s.default for s in section.settings}


def defaults(schema: dict[str, Section]) -> dict[str, dict]:
    out = {}
    for name, sec in schema.items():
        base = section_defaults(sec)
        out[name] = ({k: {**base, **v} for k, v in sec.named.items()} if sec.named is not None else base)
    return out


def line_of(text: str, header: str | None, key: str | None = None) -> int | None:
    """1-based line of `[header]` (or of `key = ...` inside it - header None: before any table -
    or of a dotted `header.key = ...` before any table); tomllib gives no positions."""
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.fullmatch(r"\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]\s*(#.*)?", s)
        if m:
            current = m.group(1).replace('"', "").replace("'", "")
            if key is None and current == header:
                return n
        elif key is not None and current == header and re.match(rf'["\']?{re.escape(key)}["\']?\s*=', s):
            return n
        elif key is not None and current is None and header is not None and \
                re.match(rf"{re.escape(header)}\s*\.\s*{re.escape(key)}\s*=", s):
            return n
    return None


def read_toml(path: Path, transform: Callable[[str], str] | None = None) -> tuple[dict, str]:
    """The parsed file and its text (after `transform`, which must keep the line numbers); a
    byte-order mark, as Windows editors write, is accepted."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SettingsError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"{path}: cannot be read ({e})") from None
    if transform is not None:
        text = transform(text)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: not valid TOML: {e}") from None


def merge_file(values: dict, path: Path, schema: dict[str, Section], ignore: tuple[str, ...] = (),
               transform: Callable[[str], str] | None = None, retired: dict[tuple[str, str], str] | None = None) -> None:
    """Check every key of the TOML file `path` against `schema` and put it into `values`.
    Sections named in `ignore` are skipped (another program's part of a shared file); keys in
    `retired` ((section, key) -> what replaced it) are skipped with a warning, so that a file
    written for an earlier version still loads; `transform`: see read_toml."""
    data, text = read_toml(path, transform)

    def where(header: str | None, key: str | None = None) -> str:
        line = line_of(text, header, key)
        return f"{path}:{line}" if line else str(path)

    for name, table in data.items():
        if name in ignore:
            continue
        if not isinstance(table, dict) and name not in schema:
            # `key = value` above every [section] header: a setting put in no section
            homes = [sec for sec, s in schema.items() if any(x.key == name for x in s.settings)]
            hint = (f"it belongs in [{'] or ['.join(homes)}]" if homes
                    else f"no section has such a key (sections: {', '.join(schema)})")
            raise SettingsError(f"{where(None, name)}: {name!r} is outside every [section]: {hint}")
        if name not in schema:
            raise SettingsError(f"{where(name)}: unknown section [{name}] (known: {', '.join(schema)})")
        if not isinstance(table, dict):
            raise SettingsError(f"{where(name)}: {name} must be a [table]")
        sec = schema[name]
        if sec.named is None:
            _merge_table(values[name], table, sec, name, where, name, retired or {})
            continue
        for sub, subtable in table.items():
            header = f"{name}.{sub}"
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", sub) or not isinstance(subtable, dict):
                raise SettingsError(f"{where(header)}: [{header}] must be a table named with letters, digits, "
                                    "'-' or '_'")
            new = sub not in values[name]
            target = values[name].setdefault(sub, section_defaults(sec))
            _merge_table(target, subtable, sec, header, where, name, retired or {})
            if new and sec.new_table:
                sec.new_table(target, subtable)


def _merge_table(target: dict, table: dict, sec: Section, header: str, where, name: str,
                 retired: dict[tuple[str, str], str]) -> None:
    settings = {s.key: s for s in sec.settings}
    for key, value in table.items():
        if (name, key) in retired:
            logging.getLogger(__name__).warning("%s: [%s] %s is no longer used (replaced by %s); ignored",
                                                where(header, key), header, key, retired[name, key])
            continue
        if key not in settings:
            raise SettingsError(f"{where(header, key)}: unknown key {key!r} in [{header}] "
                                f"(known: {', '.join(settings)})")
        problem = settings[key].check(value)
        if problem:
            raise SettingsError(f"{where(header, key)}: [{header}] {key} {problem}")
        target[key] = float(value) if isinstance(settings[key].default, float) else value


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_value(k)} = {toml_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    return repr(v)


def render(schema: dict[str, Section], intro: list[str]) -> str:
    """A TOML file with every setting, its default and what it means (named sections: each
    default table, the meanings with the first)."""
    out = [f"# {line}" if line else "#" for line in intro]
    for name, sec in schema.items():
        tables = list(sec.named.items()) if sec.named is not None else [("", {})]
        for i, (sub, values) in enumerate(tables):
            out += ["", *([f"# {sec.title}"] if i == 0 else []), f"[{name}.{sub}]" if sub else f"[{name}]"]
            for s in sec.settings:
                if i == 0:
                    out.append(f"# {s.doc}")
                out.append(f"{s.key} = {toml_value(values.get(s.key, s.default))}")
    return "\n".join(out) + "\n"
