"""docs/api.md documents every public name of assemblage_kv and assemblage_kv.browser,
and every public method and attribute of their classes; and it names nothing else.

A public name needs a heading (`### `, then the name in backticks); a member `m` of class
`C` is documented if it appears in backticks, alone, called or as `C.m`, in C's section (its
heading down to the next heading of the same level or above), or in the section of a
class or protocol of the package that C inherits from or implements (`FileStorage`'s
`read` is documented with `Storage.read`). Members inherited from Python's own classes
(`Exception.args`, `tuple.count`) are Python's to document.
"""

from __future__ import annotations

import inspect
import re

import assemblage_kv
import assemblage_kv.browser

from doc_blocks import ROOT

API = ROOT / "docs" / "api.md"
MODULES = {"assemblage_kv": assemblage_kv, "assemblage_kv.browser": assemblage_kv.browser}
HEADING = re.compile(r"(?P<level>#{2,6}) `(?P<name>[\w.]+)")

def public_names() -> dict[str, object]:
    """Every public name, as api.md heads it: `open`, `browser.IndexedDbStorage`."""
    names: dict[str, object] = {}
    for name in assemblage_kv.__all__:
        names[name] = getattr(assemblage_kv, name)
    for name in assemblage_kv.browser.__all__:
        names[f"browser.{name}"] = getattr(assemblage_kv.browser, name)
    return names


def own_members(cls: type) -> set[str]:
    """Public members that the package itself defines on `cls` or its bases."""
    members = set()
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((base for base in cls.__mro__ if name in vars(base)), None)
        if owner is not None and owner.__module__.startswith("assemblage_kv"):
            members.add(name)
    return members


def sections() -> dict[str, str]:
    """The text of each heading's section, by the dotted name the heading starts with."""
    lines = API.read_text(encoding="utf-8").splitlines()
    found: dict[str, str] = {}
    for number, line in enumerate(lines):
        match = HEADING.match(line)
        if not match:
            continue
        level = len(match["level"])
        end = number + 1
        while end < len(lines):
            other = re.match(r"#+ ", lines[end])
            if other and len(other[0]) - 1 <= level:
                break
            end += 1
        assert match["name"] not in found, f"api.md: `{match['name']}` has two headings"
        found[match["name"]] = "\n".join(lines[number:end])
    return found


def related(cls: type, names: dict[str, object]) -> list[str]:
    """The documented names whose sections may document `cls`'s members."""
    result = []
    for name, other in names.items():
        if not inspect.isclass(other):
            continue
        if issubclass(cls, other) if not _is_protocol(other) else _implements(cls, other):
            result.append(name)
    return result


def _is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def _implements(cls: type, protocol: type) -> bool:
    return own_members(protocol) <= set(dir(cls))


def mentions(text: str, cls_name: str, member: str) -> bool:
    pattern = rf"`(?:{re.escape(cls_name.split('.')[-1])}\.)?{re.escape(member)}\b"
    return re.search(pattern, text) is not None


def test_every_public_name_has_a_heading() -> None:
    documented = sections()
    missing = [name for name in public_names() if name not in documented]
    assert not missing, f"docs/api.md has no heading for {missing}"


def test_every_public_member_is_documented() -> None:
    names = public_names()
    documented = sections()
    missing = []
    for name, obj in names.items():
        if not inspect.isclass(obj):
            continue
        owners = related(obj, names)
        for member in sorted(own_members(obj)):
            if not any(mentions(documented.get(owner, ""), owner, member) for owner in owners):
                missing.append(f"{name}.{member}")
    assert not missing, f"docs/api.md does not document {missing}"


def resolve(dotted: str) -> object:
    """The object a heading names; AttributeError if there is none."""
    module: object = assemblage_kv
    if dotted.startswith("browser."):
        module, dotted = assemblage_kv.browser, dotted.removeprefix("browser.")
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_heading_names_something_that_exists() -> None:
    stale = []
    for name in sections():
        try:
            resolve(name)
        except AttributeError:
            stale.append(name)
    assert not stale, f"docs/api.md documents what does not exist: {stale}"
