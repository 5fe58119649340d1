"""Prompts are data files in `prompts/`, one per agent; rendering fails loudly on a missing variable."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from string import Template


@cache
def _template(name: str) -> Template:
    return Template((files("xolver.team") / "prompts" / f"{name}.md").read_text(encoding="utf-8"))


def render(name: str, **values: object) -> str:
    """Fill prompt `name`; a variable the file uses but the caller did not give raises `KeyError`."""
    return _template(name).substitute({k: str(v) for k, v in values.items()}).strip()
