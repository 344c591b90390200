"""Notification templates: Jinja2 in a sandbox, with overrides (DECISIONS 20, spec C §3.3).

A template has three parts, each a Jinja2 source: ``subject`` and ``text`` (plain text,
no escaping) and ``html`` (autoescaped). Undefined variables are errors
(``StrictUndefined``), so a typo never mails "Hi ,". Where a template comes from, first
match wins:

1. an override saved through the API (the database; passed in as ``override``),
2. ``<name>.subject.j2`` / ``<name>.txt.j2`` / ``<name>.html.j2`` in the configured
   directory (a missing part falls back to the built-in part),
3. the built-in files beside this module (``templates/``; ``catalog.toml`` declares the
   variables each built-in is rendered with).

Validation (:meth:`Templates.validate`, used on save and preview) compiles every part and
reports syntax errors as TEMPLATE_RENDER_ERROR with the part and line, and variables the
parts use that are not declared/supplied as MISSING_TEMPLATE_VARIABLES.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from rcommerce.domain.notifications.errors import (
    MISSING_TEMPLATE_VARIABLES,
    TEMPLATE_NOT_FOUND,
    TEMPLATE_RENDER_ERROR,
    NotificationError,
)

__all__ = ["BUILTIN_DIR", "PARTS", "Rendered", "TemplateSource", "Templates"]

BUILTIN_DIR = Path(__file__).parent / "templates"
#: Part name -> file suffix.
PARTS: dict[str, str] = {"subject": ".subject.j2", "text": ".txt.j2", "html": ".html.j2"}


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """The sources of one template and the variables it is rendered with."""

    name: str
    subject: str
    text: str
    html: str = ""
    variables: tuple[str, ...] = ()
    #: "builtin", "directory" or "override".
    origin: str = "builtin"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str = ""


@dataclass(slots=True)
class Templates:
    """Loads, validates and renders templates. ``directory`` holds file overrides;
    ``globals`` are available to every template (``company_name``, ``support_email``...)
    and count as supplied."""

    directory: Path | None = None
    globals: Mapping[str, Any] = field(default_factory=dict)
    _text_env: SandboxedEnvironment = field(init=False, repr=False)
    _html_env: SandboxedEnvironment = field(init=False, repr=False)
    _catalog: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    _topics: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        common: dict[str, Any] = {"undefined": jinja2.StrictUndefined, "keep_trailing_newline": False}
        self._text_env = SandboxedEnvironment(autoescape=False, **common)
        self._html_env = SandboxedEnvironment(autoescape=True, **common)
        for env in (self._text_env, self._html_env):
            env.globals.update(self.globals)
        with (BUILTIN_DIR / "catalog.toml").open("rb") as f:
            catalog = tomllib.load(f)
        self._catalog = {name: tuple(entry.get("variables", ())) for name, entry in catalog.items()}
        self._topics = {name: str(entry.get("topic", "")) for name, entry in catalog.items()}

    # -- lookup -------------------------------------------------------------------------

    def builtin_names(self) -> list[str]:
        return sorted(self._catalog)

    def topic(self, name: str) -> str:
        """The preference topic of a built-in template ("order_updates", "marketing",
        "account", "staff"...); overrides keep it; "" for templates without one."""
        return self._topics.get(name, "")

    def has(self, name: str) -> bool:
        return name in self._catalog or self._dir_part(name, "subject") is not None

    def builtin(self, name: str) -> TemplateSource:
        """The built-in template (ignores the directory)."""
        if name not in self._catalog:
            raise NotificationError(TEMPLATE_NOT_FOUND, f"Template {name} does not exist.", template=name)
        parts = {part: _read(BUILTIN_DIR / f"{name}{suffix}") or "" for part, suffix in PARTS.items()}
        return TemplateSource(name, parts["subject"], parts["text"], parts["html"], self._catalog[name], "builtin")

    def source(self, name: str, override: TemplateSource | None = None) -> TemplateSource:
        """The effective template: ``override`` (from the database) > directory > built-in."""
        if override is not None:
            return override
        base = self.builtin(name) if name in self._catalog else None
        found = {part: self._dir_part(name, part) for part in PARTS}
        if all(v is None for v in found.values()):
            if base is None:
                raise NotificationError(TEMPLATE_NOT_FOUND, f"Template {name} does not exist.", template=name)
            return base

        def pick(part: str) -> str:
            value = found[part]
            if value is not None:
                return value
            return getattr(base, part) if base is not None else ""

        variables = base.variables if base is not None else ()
        return TemplateSource(name, pick("subject"), pick("text"), pick("html"), variables, "directory")

    def _dir_part(self, name: str, part: str) -> str | None:
        if self.directory is None or "/" in name or "\\" in name or name.startswith("."):
            return None
        return _read(self.directory / f"{name}{PARTS[part]}")

    # -- validation and rendering ------------------------------------------------------------

    def undeclared(self, source: TemplateSource) -> set[str]:
        """Every variable the parts use (globals excluded). Raises TEMPLATE_RENDER_ERROR
        for a syntax error."""
        used: set[str] = set()
        for part in PARTS:
            text = getattr(source, part)
            env = self._html_env if part == "html" else self._text_env
            try:
                ast = env.parse(text)
            except jinja2.TemplateSyntaxError as exc:
                raise NotificationError(
                    TEMPLATE_RENDER_ERROR,
                    f"Template {source.name} {part}: line {exc.lineno}: {exc.message}",
                    template=source.name, part=part, line=exc.lineno,
                ) from exc  # fmt: skip
            used |= meta.find_undeclared_variables(ast)
        return used - set(self.globals)

    def validate(self, source: TemplateSource, supplied: Iterable[str] | None = None) -> None:
        """Check syntax, and that every used variable is in ``supplied`` (default: the
        template's declared variables)."""
        available = set(source.variables if supplied is None else supplied)
        missing = sorted(self.undeclared(source) - available)
        if missing:
            raise NotificationError(
                MISSING_TEMPLATE_VARIABLES,
                f"Template {source.name} uses variables that are not supplied: {', '.join(missing)}.",
                template=source.name, variables=",".join(missing),
            )  # fmt: skip

    def render_source(self, source: TemplateSource, variables: Mapping[str, Any]) -> Rendered:
        self.validate(source, variables.keys())
        out: dict[str, str] = {}
        for part in PARTS:
            text = getattr(source, part)
            env = self._html_env if part == "html" else self._text_env
            try:
                out[part] = env.from_string(text).render(**variables) if text else ""
            except jinja2.UndefinedError as exc:
                raise NotificationError(
                    MISSING_TEMPLATE_VARIABLES, f"Template {source.name} {part}: {exc.message}",
                    template=source.name, part=part, variables="",
                ) from exc  # fmt: skip
            except jinja2.TemplateError as exc:
                raise NotificationError(
                    TEMPLATE_RENDER_ERROR, f"Template {source.name} {part}: {exc}", template=source.name, part=part
                ) from exc
        subject = " ".join(out["subject"].split())  # one line, whatever the source did
        return Rendered(subject, out["text"].strip() + "\n", out["html"].strip())

    def render(self, name: str, variables: Mapping[str, Any], *, override: TemplateSource | None = None) -> Rendered:
        """Render the effective template ``name`` with ``variables``."""
        return self.render_source(self.source(name, override), variables)

    def render_string(self, source: str, variables: Mapping[str, Any]) -> str:
        """Render one plain-text source (rule recipients); errors as TEMPLATE_RENDER_ERROR."""
        try:
            return self._text_env.from_string(source).render(**variables)
        except jinja2.TemplateError as exc:
            raise NotificationError(TEMPLATE_RENDER_ERROR, str(exc)) from exc

    def sample(self, source: TemplateSource) -> dict[str, str]:
        """Placeholder values for previews: every variable renders as ``[name]``."""
        return {name: f"[{name}]" for name in source.variables}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
