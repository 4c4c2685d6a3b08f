"""What a config field or a command-line flag may hold, and the rules between fields.

A :class:`Field` is a default, a :class:`Domain` and a one-line meaning; a :class:`Rule` ties
fields together (``analysis.transient < analysis.length``). The schema
(:mod:`locornn.configs.schema`) and the rules (:mod:`locornn.configs.rules`) are made of these
objects only, so that the check, its error message, ``locornn train --help-config``, the docs'
table and the fuzz test all read the same declaration. :func:`flag` turns a domain into an
argparse ``type=``, so each command's flags are refused by the same objects with the same words.

Every message is one line: the field or flag, the value found, what is allowed, and the fix.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import math
import pathlib
from collections.abc import Callable, Sequence
from typing import Any


class Domain:
    """A set of allowed values; ``kind`` (int, float, str, bool) is the type a value must have."""

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self, kind: type) -> str:
        """The allowed values in words, after "must be" ("an integer >= 1")."""
        raise NotImplementedError


_NOUNS = {int: "an integer", float: "a finite number", str: "a string", bool: "True or False"}


def _number(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclasses.dataclass(frozen=True)
class Range(Domain):
    """Finite numbers between ``low`` and ``high`` (each inclusive unless ``*_open``); ``odd``:
    odd integers only; ``also``: values allowed outside the range (``0`` for "off")."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    odd: bool = False
    also: tuple = ()

    def contains(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if value in self.also:
            return True
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high
                                      or (self.high_open and value == self.high)):
            return False
        return not self.odd or (value == int(value) and int(value) % 2 == 1)

    def describe(self, kind: type = float) -> str:
        noun = _NOUNS.get(kind, "a number")
        if self.odd and self.low == 1 and self.high is None:
            words = "a positive odd number"
        else:
            if self.odd:
                noun = "an odd integer"
            low = None if self.low is None else ("> " if self.low_open else ">= ") + _number(
                self.low)
            high = None if self.high is None else ("< " if self.high_open else "<= ") + _number(
                self.high)
            if low and high:
                words = (f"{noun} in {'(' if self.low_open else '['}{_number(self.low)}, "
                         f"{_number(self.high)}{')' if self.high_open else ']'}")
            else:
                words = " ".join(w for w in (noun, low or high) if w)
        if self.also:
            words = f"{', '.join(map(repr, self.also))} or {words}"
        return words


def at_least(low: float, **kw) -> Range:
    return Range(low=low, **kw)


def above(low: float, **kw) -> Range:
    return Range(low=low, low_open=True, **kw)


def between(low: float, high: float, **kw) -> Range:
    return Range(low=low, high=high, **kw)


def odd(low: int = 1) -> Range:
    return Range(low=low, odd=True)


def finite() -> Range:
    return Range()


@dataclasses.dataclass(frozen=True)
class OneOf(Domain):
    """One of ``choices``; a ``"module:NAME"`` string names a tuple imported when first needed
    (the Hamiltonian systems live with their simulators, which need jax)."""

    choices: tuple | str

    @property
    def values(self) -> tuple:
        if isinstance(self.choices, str):
            module, _, name = self.choices.partition(":")
            return tuple(getattr(importlib.import_module(module), name))
        return self.choices

    def contains(self, value) -> bool:
        return value in self.values

    def describe(self, kind: type = str) -> str:
        return f"one of {self.values}"


def one_of(*choices) -> OneOf:
    return OneOf(choices)


@dataclasses.dataclass(frozen=True)
class Text(Domain):
    """Any string (a path, a name); ``empty=False`` refuses ``""``."""

    empty: bool = True

    def contains(self, value) -> bool:
        return isinstance(value, str) and (self.empty or value.strip() != "")

    def describe(self, kind: type = str) -> str:
        return "a string" if self.empty else "a non-empty string"


@dataclasses.dataclass(frozen=True)
class Switch(Domain):
    """True or False."""

    def contains(self, value) -> bool:
        return isinstance(value, bool)

    def describe(self, kind: type = bool) -> str:
        return "True or False"


def fits_int32(kind: type, value) -> bool:
    """Integers must fit 32 bits: jax's default integers are 32-bit, and a count beyond them is
    a typo, not a request."""
    return kind is not int or -2**31 <= value < 2**31


@dataclasses.dataclass(frozen=True)
class Field:
    """A config field: its default (whose type is the field's type), domain and meaning."""

    default: Any
    domain: Domain
    doc: str

    @property
    def kind(self) -> type:
        return type(self.default)

    def describe(self) -> str:
        return self.domain.describe(self.kind)

    def problem(self, path: str, value) -> str | None:
        """``None`` when ``value`` fits, else the one-line message saying why and the fix."""
        kind = self.kind
        right_type = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            right_type = True
        right_type = right_type and fits_int32(kind, value)
        fix = f"e.g. --config.{path}={self.default!r} (the default)"
        if not right_type:
            bits = " (32-bit)" if kind is int else ""
            return (f"config key {path!r} must be {kind.__name__}{bits}, got "
                    f"{type(value).__name__} {value!r}; {fix}")
        if not self.domain.contains(value):
            return f"config key {path!r} must be {self.describe()}, got {value!r}; {fix}"
        return None


@dataclasses.dataclass(frozen=True)
class Rule:
    """A rule between fields, declared once.

    ``holds(config)`` is the test; it is asked only when ``applies(config)``. ``says`` is the
    message, a format string over the config's sections (``{analysis.length}``) or a function
    of the config, and ``fix`` what to change. ``fields`` are the fields it reads (the first
    is the one it names), and ``breaks`` a ``(experiment, {field: value})`` that violates it,
    for the tests (for an :class:`Order`, the experiment it applies to: the fuzz test draws
    the values).
    """

    name: str
    fields: tuple[str, ...]
    holds: Callable
    says: str | Callable
    fix: str
    breaks: tuple[str, dict]
    applies: Callable = lambda config: True

    def problem(self, config) -> str | None:
        if not self.applies(config) or self.holds(config):
            return None
        if callable(self.says):
            return f"{self.says(config)}; {self.fix}"
        values = {key: config[key] for key in config.keys()}
        return f"{self.says.format(**values)}; {self.fix}"


_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b}


@dataclasses.dataclass(frozen=True)
class Order(Rule):
    """``low op high`` between two numeric fields (``op`` is "<" or "<="); the fuzz test draws
    violating pairs of it by itself."""

    op: str = "<"

    @staticmethod
    def of(low: str, op: str, high: str, fix: str, *, name: str = "",
           says: str | Callable = "",
           applies: Callable = lambda config: True, breaks: tuple[str, dict] | None = None,
           low_of: Callable | None = None, high_of: Callable | None = None) -> Order:
        """The rule ``low op high``; ``low_of``/``high_of`` read the values (default: the
        fields) for rules such as "test length (0: the training length) > window"."""
        def read(path, getter):
            section, _, key = path.rpartition(".")
            return getter or (lambda c: (c[section] if section else c)[key])

        get_low, get_high = read(low, low_of), read(high, high_of)
        return Order(
            name=name or f"{low} {op} {high}", fields=(low, high),
            holds=lambda c: _COMPARE[op](get_low(c), get_high(c)),
            says=says or f"'{low}' ({{{low}}}) must be {op} '{high}' ({{{high}}})", fix=fix,
            breaks=breaks or ("waves:smoke", {}), applies=applies, op=op)


def check_fields(config, schema: dict[str, Field]) -> str | None:
    """The first field of ``config`` whose value is outside its domain, as a message."""
    for path, field in schema.items():
        section, _, key = path.rpartition(".")
        node = config[section] if section else config
        if key in node:
            message = field.problem(path, node[key])
            if message:
                return message
    return None


def check_rules(config, rules: Sequence[Rule]) -> str | None:
    """The first rule ``config`` breaks, as a message."""
    for rule in rules:
        message = rule.problem(config)
        if message:
            return message
    return None


# ----------------------------------------------------------------------------------------------
# Command-line flags: argparse types made from domains.
# ----------------------------------------------------------------------------------------------


def flag(domain: Domain, kind: type = int) -> Callable[[str], Any]:
    """An argparse ``type=`` that parses ``kind`` and refuses values outside ``domain`` with
    the domain's words ("must be an integer >= 1, got '0'"). One function per (domain, kind),
    so flags of one meaning in several commands have one type."""
    return _flag(domain, kind)


@functools.cache
def _flag(domain: Domain, kind: type) -> Callable[[str], Any]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not fits_int32(kind, value) or not domain.contains(value):
            raise argparse.ArgumentTypeError(f"must be {domain.describe(kind)}, got {text!r}")
        return value

    parse.domain, parse.kind = domain, kind
    parse.__name__ = kind.__name__
    return parse


@dataclasses.dataclass(frozen=True)
class PathDomain(Domain):
    """A path. ``exists`` "file", "dir" or "any": an input, which must exist; ``None``: an
    output, which can be created (no file above it) and is not an existing file where a folder
    goes (``folder=True``) or an existing folder where a file goes (``folder=False``; ``None``:
    either). ``empty``: ``""`` is allowed too (no path)."""

    exists: str | None = None
    folder: bool | None = True
    empty: bool = False

    def contains(self, value) -> bool:
        if value == "" and self.empty:
            return True
        if not isinstance(value, str) or not value.strip():
            return False
        path = pathlib.Path(value)
        if self.exists is not None:
            return {"file": path.is_file, "dir": path.is_dir, "any": path.exists}[self.exists]()
        above = next((p for p in path.absolute().parents if p.exists()), None)
        if above is not None and not above.is_dir():
            return False
        return self.folder is None or not path.exists() or path.is_dir() == self.folder

    def describe(self, kind: type = str) -> str:
        words = {"file": "an existing file", "dir": "an existing folder",
                 "any": "an existing path"}.get(self.exists) or {
            True: "a folder path (not a file, nor below one)",
            False: "a file path (not a folder, nor below a file)",
            None: "a path that can be written (not below a file)"}[self.folder]
        return words + (' or ""' if self.empty else "")


def path_flag(exists: str | None = None, folder: bool | None = True,
              empty: bool = False) -> Callable[[str], str]:
    """An argparse ``type=`` for a path flag (see :class:`PathDomain`)."""
    return flag(PathDomain(exists, folder, empty), str)
