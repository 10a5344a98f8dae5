"""Renders ``conf/sorabeat.reference.yml`` from the settings declarations, so the reference
documents exactly what the loader accepts, with the same defaults and words.

Conventions, as in metricbeat's reference file: ``#key: default`` is a setting (remove the
``#`` to use it), ``# text`` is prose.
"""

from __future__ import annotations

import dataclasses
import textwrap
import typing
from typing import Any, Literal, get_args, get_origin

import yaml

from sorabeat.config.schema import _hints, _is_optional, _strip_annotated, _strip_optional

HEADER = """\
###################### Sorabeat Configuration Reference ######################
#
# Every option sorabeat accepts, with its default. Generated from the settings
# declarations by `python tools/gen_reference.py`; a test keeps the two in step.
#
# Lines "#key: value" are settings: remove the "#" to use one. Lines "# text"
# explain. Dotted keys ("output.logstash.hosts: [...]") and nested mappings
# mean the same. Values may use ${VAR} or ${VAR:default} (a setting such as
# ${path.data}, a keystore key, or an environment variable).
"""

SECTIONS = {
    "name": "General",
    "path": "Paths",
    "sorabeat": "Modules",
    "output": "Outputs (enable exactly one)",
    "queue": "Queue",
    "logging": "Logging",
    "http": "Self-monitoring HTTP endpoint",
    "setup": "Setup (sorabeat setup)",
}


def _doc_lines(indent: str, doc: str) -> list[str]:
    return textwrap.wrap(
        doc, width=92, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
    )


def _render_value(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "permissions" and isinstance(value, int):
        return f" 0{value:o}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1000, allow_unicode=True)
    return " " + text.strip().removesuffix("...").strip()


def _example(f: dataclasses.Field[Any], tp: Any) -> Any:
    if f.default is not dataclasses.MISSING:
        value: Any = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    elif get_origin(tp) is Literal:
        value = get_args(tp)[0]
    else:
        value = None
    return value


def _duration(name: str, value: Any, tp: Any) -> Any:
    """Durations read better as "10s" than as 10.0."""
    if get_origin(tp) is typing.Annotated:
        from sorabeat.config.schema import Duration

        if any(isinstance(e, Duration) for e in get_args(tp)[1:]) and isinstance(value, float):
            return f"{value:g}s"
    return value


def _lines(cls: type, indent: str, out: list[str]) -> None:
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        bare = _strip_annotated(tp)
        optional = _is_optional(bare)
        inner = _strip_annotated(_strip_optional(bare)) if optional else bare
        doc = str(f.metadata.get("doc", ""))
        aliases = f.metadata.get("aliases", ())
        if doc:
            out.extend(_doc_lines(indent, doc))
        if aliases:
            out.append(f"{indent}# Also accepted as: {', '.join(aliases)}.")
        if isinstance(inner, type) and dataclasses.is_dataclass(inner):
            out.append(f"{indent}#{f.name}:")
            _lines(inner, indent + "  ", out)
            continue
        item = get_args(inner)[0] if get_origin(inner) is list else None
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            out.append(f"{indent}#{f.name}:")
            out.append(f"{indent}#-")
            _lines(item, indent + "  ", out)
            continue
        value = _duration(f.name, _example(f, inner), _strip_optional(tp) if optional else tp)
        out.append(f"{indent}#{f.name}:{_render_value(f.name, value)}")


def render_reference(schema: type) -> str:
    """The reference of the settings tree ``schema`` (a dataclass)."""
    out: list[str] = [HEADER]
    hints = _hints(schema)
    for f in dataclasses.fields(schema):
        if f.name in SECTIONS:
            title = SECTIONS[f.name]
            out.append("")
            out.append(f"#{'=' * 20} {title} {'=' * max(0, 55 - len(title))}")
        tp = _strip_annotated(hints[f.name])
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            # one level of dotted keys at the top, as metricbeat's reference does
            sub_hints = _hints(tp)
            for sub in dataclasses.fields(tp):
                doc = str(sub.metadata.get("doc", ""))
                out.append("")
                if doc:
                    out.extend(_doc_lines("", doc))
                sub_tp = _strip_annotated(sub_hints[sub.name])
                sub_inner = (
                    _strip_annotated(_strip_optional(sub_tp)) if _is_optional(sub_tp) else sub_tp
                )
                item = get_args(sub_inner)[0] if get_origin(sub_inner) is list else None
                if isinstance(sub_inner, type) and dataclasses.is_dataclass(sub_inner):
                    out.append(f"#{f.name}.{sub.name}:")
                    _lines(sub_inner, "  ", out)
                elif isinstance(item, type) and dataclasses.is_dataclass(item):
                    out.append(f"#{f.name}.{sub.name}:")
                    out.append("#-")
                    _lines(item, "  ", out)
                else:
                    value = _duration(sub.name, _example(sub, sub_inner), sub_hints[sub.name])
                    out.append(f"#{f.name}.{sub.name}:{_render_value(sub.name, value)}")
        else:
            _lines_single(f, hints[f.name], out)
    return "\n".join(out) + "\n"


def _lines_single(f: dataclasses.Field[Any], tp: Any, out: list[str]) -> None:
    doc = str(f.metadata.get("doc", ""))
    out.append("")
    if doc:
        out.extend(_doc_lines("", doc))
    bare = _strip_annotated(tp)
    inner = _strip_optional(bare) if _is_optional(bare) else bare
    out.append(f"#{f.name}:{_render_value(f.name, _example(f, inner))}")


def uncomment(text: str) -> str:
    """The reference with every setting line switched on (for the test that loads it)."""
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("#") and len(stripped) > 1 and stripped[1] not in " #=":
            lines.append(indent + stripped[1:])
        elif stripped.startswith("#"):
            continue
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"
