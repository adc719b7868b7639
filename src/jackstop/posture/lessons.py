"""The teaching text of the ten controls (lessons.toml): looked up by number or name."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


class UnknownControl(ValueError):
    pass


@dataclass(frozen=True)
class Lesson:
    number: int
    name: str
    title: str
    risk: str
    attack: str
    incident: str
    fix: str
    check: str
    sources: tuple[str, ...]


@cache
def all_lessons() -> tuple[Lesson, ...]:
    raw = tomllib.loads(resources.files("jackstop.posture").joinpath("lessons.toml").read_text("utf-8"))
    out = []
    for c in raw["control"]:
        out.append(Lesson(c["number"], c["name"], c["title"], c["risk"], c["attack"].strip(),
                          c["incident"].strip(), c["fix"].strip(), c["check"].strip(), tuple(c.get("sources", ()))))
    return tuple(sorted(out, key=lambda lesson: lesson.number))


def lesson(control: int | str) -> Lesson:
    """A control by number (3), name (caps-and-alerts) or a unique start of its name (caps)."""
    text = str(control).strip().lower()
    lessons = all_lessons()
    if text.isdigit():
        for item in lessons:
            if item.number == int(text):
                return item
    else:
        exact = [item for item in lessons if item.name == text]
        starts = [item for item in lessons if item.name.startswith(text)]
        if exact or len(starts) == 1:
            return (exact or starts)[0]
    names = ", ".join(f"{item.number} {item.name}" for item in lessons)
    raise UnknownControl(f"no control {control!r}; give a number 1-10 or a name: {names}")


def explain(control: int | str) -> str:
    """The lesson as plain text for a terminal; `list` gives the ten controls."""
    if str(control).strip().lower() in ("list", "all"):
        return "\n".join(f"{item.number:>2}  {item.name:<17} {item.title}" for item in all_lessons()) + \
            "\n\njackstop posture --explain NUMBER|NAME teaches one."
    item = lesson(control)
    parts = [f"Control {item.number}: {item.title} ({item.name})", "", item.risk, "",
             "WHAT THE ATTACK LOOKS LIKE", item.attack, "", "THE INCIDENT", item.incident, "",
             "THE FIX", item.fix, "", "HOW TO CHECK IT", item.check]
    if item.sources:
        parts += ["", "SOURCES"] + [f"  - {s}" for s in item.sources]
    return "\n".join(parts)
