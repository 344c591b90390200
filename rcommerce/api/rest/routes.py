"""Path templates (google/api/http.proto grammar) compiled into a route table.

``Template = "/" Segments [":" Verb]``, a segment is ``*``, ``**``, a literal or a
variable ``{field.path=Segments}`` (default pattern ``*``). Each template becomes one
regular expression with a named group per variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from rcommerce.api.methods import HttpBinding, MethodInfo

_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class PathVariable:
    field_path: str  # "product.name"
    group: str  # regex group name
    multi_segment: bool  # the pattern contains "**"


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route of one RPC."""

    method: MethodInfo
    binding: HttpBinding
    regex: re.Pattern[str]
    variables: tuple[PathVariable, ...]
    literal_prefix: str
    has_verb: bool

    @property
    def verb(self) -> str:
        return self.binding.verb

    @property
    def template(self) -> str:
        return self.binding.template

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        values = {}
        for var in self.variables:
            raw = found.group(var.group)
            # "**" keeps %2F encoded so a captured path keeps its own slashes apart.
            values[var.field_path] = raw if var.multi_segment else unquote(raw)
        return values


def _segments_regex(segments: str) -> str:
    parts = []
    for seg in segments.split("/"):
        if seg == "*":
            parts.append("[^/]+")
        elif seg == "**":
            parts.append(".+")
        else:
            parts.append(re.escape(seg))
    return "/".join(parts)


def compile_route(method: MethodInfo, binding: HttpBinding) -> Route:
    """Compile ``binding.template``; raises ``ValueError`` on a malformed template."""
    template = binding.template
    if not template.startswith("/"):
        raise ValueError(f"{method.full_name}: template {template!r} must start with '/'")
    path, verb = template, ""
    last = template.rsplit("/", 1)[-1]
    if ":" in last and "}" not in last.split(":", 1)[1]:
        path, verb = template.rsplit(":", 1)
    regex, variables, pos = [], [], 0
    for i, found in enumerate(_VARIABLE.finditer(path)):
        regex.append(_segments_regex(path[pos : found.start()]) if path[pos : found.start()] else "")
        group = f"v{i}"
        pattern = found.group(2) or "*"
        regex.append(f"(?P<{group}>{_segments_regex(pattern)})")
        variables.append(PathVariable(found.group(1), group, "**" in pattern))
        pos = found.end()
    regex.append(_segments_regex(path[pos:]) if path[pos:] else "")
    source = "".join(regex) + (re.escape(":" + verb) if verb else "")
    first_var = path.find("{")
    prefix = path if first_var < 0 else path[:first_var]
    return Route(method, binding, re.compile(source), tuple(variables), prefix, bool(verb))


class RouteTable:
    """All routes, matched by HTTP verb then path. Custom-verb routes are tried first so
    ``[^/]+`` of a plain route never swallows ``products/p1:archive``; within each group
    longer literal prefixes win."""

    def __init__(self, methods: dict[str, MethodInfo]) -> None:
        routes = [compile_route(m, b) for m in methods.values() for b in m.bindings]
        routes.sort(key=lambda r: (not r.has_verb, -len(r.literal_prefix), r.template))
        self.routes = tuple(routes)
        self._by_verb: dict[str, list[Route]] = {}
        for route in self.routes:
            self._by_verb.setdefault(route.verb, []).append(route)

    def match(self, verb: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._by_verb.get(verb, ()):
            values = route.match(path)
            if values is not None:
                return route, values
        return None

    def allowed_verbs(self, path: str) -> list[str]:
        """HTTP verbs that have a route for ``path`` (for 405 answers)."""
        return sorted({r.verb for r in self.routes if r.match(path) is not None})
