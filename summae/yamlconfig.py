"""Config files as typed mappings: YAML 1.2 scalars, `--set section.key=value` overrides, and dataclasses built
from mappings with every key and type checked (summae.config's Config is read and written through these)."""

from __future__ import annotations

import dataclasses
import logging
import re
import types
import typing

import yaml

from summae.errors import SummaeError

_log = logging.getLogger("summae.config")


def build(cls, raw: dict, where: str, prefix: str = "", retired: dict | None = None):
    """An instance of dataclass cls from a mapping read from `where`: every key known and of its field's type (nested
    dataclasses built alike); a key of `retired` ("section.key": why) is dropped, with a warning unless its value is 0.
    A one-line SummaeError names the first problem."""
    retired_keys = retired or {}
    if not isinstance(raw, dict):
        raise SummaeError(f"{where}: {prefix.rstrip('.') or 'config'} must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    dropped = [key for key in raw if f"{prefix}{key}" in retired_keys]
    if dropped:
        raw = dict(raw)  # the caller's mapping stays as it was
        for key in dropped:
            value = raw.pop(key)
            if str(getattr(value, "parsed", value)) != "0":
                _log.warning(f"{where}: {prefix}{key} is ignored ({retired_keys[prefix + key]})")
    unknown = sorted(set(raw) - names)
    if unknown:
        key = f"{prefix}{unknown[0]}"  # repr: a key with a newline (a YAML quirk, a typo) stays on one line
        raise SummaeError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(names))})")
    return cls(**{key: coerce(hints[key], value, where, f"{prefix}{key}", retired_keys)
                  for key, value in raw.items()})


def coerce(hint, value, where: str, key: str, retired: dict | None = None):
    """Check (and gently convert: int -> float, scalar -> one-item list) a YAML value against a type hint."""
    if isinstance(value, SetText):
        args = typing.get_args(hint) or (hint,)
        if value.parsed is None and type(None) in args:
            value = None
        else:
            value = str(value) if str in args else value.parsed
    if dataclasses.is_dataclass(hint):
        return build(hint, value or {}, where, f"{key}.", retired)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(inner[0], value, where, key, retired)
    if origin is list:
        (item,) = typing.get_args(hint)
        items = value if isinstance(value, list) else [value]
        return [coerce(item, v, where, f"{key}[{i}]") for i, v in enumerate(items)]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise SummaeError(f"{where}: {key} must be {hint.__name__}, got {value!r} ({type(value).__name__})")
    return value


class Loader(yaml.SafeLoader):
    """YAML with YAML 1.2 scalars: only true/false are bools (so `no`, `on` and `off` stay text), and
    `3e-4` is a float, as a reader of the config expects."""


Loader.yaml_implicit_resolvers = {
    key: [(tag, regex) for tag, regex in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                             list("tTfF"))
_YAML12_FLOAT = re.compile(
    r"^[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$")
Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789."))


class Dumper(yaml.SafeDumper):
    """safe_dump that also quotes text Loader would read as a number (`3e-4`), so that to_yaml -> from_yaml
    gives back every text field as it was, and plain yaml.safe_load still reads the file the same way."""


Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789."))


class SetText(str):
    """A --set value as the user typed it, kept for text fields (`--set data.text_field=true` means "true")."""

    def __new__(cls, text: str, parsed):
        obj = super().__new__(cls, text)
        obj.parsed = parsed
        return obj


def apply_override(raw: dict, item: str) -> None:
    """`section.key=value`, value parsed as YAML (so 3e-4, true, [a, b] and null work)."""
    if "=" not in item:
        raise SummaeError(f"--set expects section.key=value, got {item!r}")
    dotted, text = item.split("=", 1)
    try:
        value = yaml.load(text, Loader=Loader) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    if isinstance(value, (bool, int, float)) or value is None:
        value = SetText(text.strip(), value)  # text fields take the text, other fields the parsed value
    node = raw
    parts = dotted.strip().split(".")
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}  # a missing section, or one left empty in the file
        node = node[part]
        if not isinstance(node, dict):
            raise SummaeError(f"--set {dotted}: {part} is not a section")
    node[parts[-1]] = value
