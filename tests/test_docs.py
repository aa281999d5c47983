"""Every reference to a file or a section of the repository resolves (docs/README.md, "Referring to
the docs").

Checked in every ``*.py`` file (docstrings, comments and strings alike) and every Markdown file of the
repository:

- a Markdown link ``[text](target)`` whose target is not a URL: the file, relative to the linking
  file, exists, and its ``#anchor`` (if any) is a heading of the target, slugged as GitHub does;
- a path written out from the repository root (``docs/multistep.md#ghvb``, ``tests/test_unipc.py``)
  whose first folder is one of the repository's own: it exists, and a Markdown target's anchor exists;
- no reference in the style of the old specification: a path under a ``spec`` folder, a section sign,
  or its section labels ("spec c.1", "spec E2").
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", ".ruff_cache", ".pytest_cache", "__pycache__", "out", "node_modules"}
FILE_TYPES = "py|md|json|png|svg|toml|txt|yaml|yml|sh|safetensors|js|css"

MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
PATH = re.compile(r"(?<![\w./<>-])((?:[\w.-]+/)+[\w.-]+\.(?:" + FILE_TYPES + r"))(#[\w-]+)?(?![\w/])")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
OLD_SPEC = [
    re.compile(r"\bspec" + "/" + r"[\w.-]+"),
    re.compile("\u00a7"),
    re.compile(r"\bspec\s+(?:c\.\d|E\d|\([a-e]\))"),
    re.compile(r"\bspec\s+`[\w.-]+\.md`"),
]


def repo_files() -> list[Path]:
    """The ``*.py`` and ``*.md`` files of the repository, outside build and environment folders."""
    out = []
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS for part in rel.parts[:-1]) or not path.is_file():
            continue
        if path.suffix in (".py", ".md"):
            out.append(path)
    return out


def top_level_dirs() -> set[str]:
    """The repository's own top-level folders: a path starting with one of them is a repo reference
    (``comfy/samplers.py`` or ``modules/sd_samplers.py`` name host files and are not checked)."""
    return {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in SKIP_DIRS}


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup and punctuation dropped, lower case, spaces → '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def without_code_fences(text: str) -> list[tuple[int, str]]:
    """(line number, line) of a Markdown text, outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def anchors_of_text(text: str) -> set[str]:
    """Every heading anchor of a Markdown text, duplicates numbered -1, -2, … as GitHub does."""
    seen: dict[str, int] = {}
    anchors = set()
    for _, line in without_code_fences(text):
        m = HEADING.match(line)
        if not m:
            continue
        slug = github_slug(m.group(2))
        n = seen.get(slug, 0)
        anchors.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return anchors


@cache
def anchors(path: Path) -> frozenset[str]:
    return frozenset(anchors_of_text(path.read_text(encoding="utf-8")))


def check_target(source: Path, target: Path, anchor: str, where: str) -> str | None:
    """None when ``target`` exists (and has heading ``anchor``), else the problem in words."""
    if not target.exists():
        return f"{where}: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} does not exist"
    if anchor:
        if target.is_dir() or target.suffix != ".md":
            return f"{where}: #{anchor} on a file that is not Markdown"
        if anchor not in anchors(target.resolve()):
            return f"{where}: {target.relative_to(ROOT)} has no section #{anchor}"
    return None


def dead_references(path: Path, text: str, roots: set[str]) -> list[str]:
    """The references in ``text`` (the content of ``path``) that do not resolve."""
    problems = []
    rel = path.relative_to(ROOT)
    lines = without_code_fences(text) if path.suffix == ".md" else enumerate(text.splitlines(), 1)
    for number, line in lines:
        where = f"{rel}:{number}"
        if path.suffix == ".md":
            for m in MARKDOWN_LINK.finditer(line):
                target = m.group(1)
                if re.match(r"^[a-z][\w+.-]*:", target):  # http:, https:, mailto:
                    continue
                file_part, _, anchor = target.partition("#")
                resolved = path if not file_part else (path.parent / file_part).resolve()
                problem = check_target(path, resolved, anchor, f"{where}: link ({target})")
                if problem:
                    problems.append(problem)
        for m in PATH.finditer(line):
            first = m.group(1).split("/", 1)[0]
            if first not in roots:
                continue
            if path.suffix == ".md" and f"]({m.group(1)}" in line:
                continue  # a link target relative to the file, checked above
            problem = check_target(path, ROOT / m.group(1), (m.group(2) or "#")[1:], f"{where}: {m.group(0)}")
            if problem:
                problems.append(problem)
    return problems


def old_spec_references(path: Path, text: str) -> list[str]:
    rel = path.relative_to(ROOT)
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern in OLD_SPEC:
            m = pattern.search(line)
            if m:
                out.append(f"{rel}:{number}: {m.group(0)!r} in {line.strip()[:100]!r}")
                break
    return out


def test_every_reference_to_a_repository_file_or_section_resolves():
    roots = top_level_dirs()
    problems = []
    for path in repo_files():
        problems += dead_references(path, path.read_text(encoding="utf-8"), roots)
    assert not problems, f"{len(problems)} dead reference(s):\n" + "\n".join(problems)


def test_no_reference_points_at_the_old_specification():
    problems = []
    for path in repo_files():
        if path == Path(__file__).resolve():
            continue
        problems += old_spec_references(path, path.read_text(encoding="utf-8"))
    assert not problems, f"{len(problems)} reference(s) to the old specification:\n" + "\n".join(problems)


def test_every_docs_page_is_listed_in_the_index():
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md")
    assert pages, "docs/ has no pages"
    missing = [name for name in pages if f"]({name})" not in index]
    assert not missing, f"docs/README.md does not link {missing}"


# The checker itself, on made-up text: it must see what it is meant to see.

@pytest.mark.parametrize(("heading", "slug"), [
    ("GHVB", "ghvb"),
    ("GHVB coefficients", "ghvb-coefficients"),
    ("A1111, Forge and reForge", "a1111-forge-and-reforge"),
    ("The reference code's bug", "the-reference-codes-bug"),
    ("`sampling/` and the `Run` class", "sampling-and-the-run-class"),
    ("UniP-2 predictor", "unip-2-predictor"),
])
def test_slugs_follow_github(heading, slug):
    assert github_slug(heading) == slug


def test_duplicate_headings_and_code_fences():
    text = "# A\n## Notes\n```bash\n# not a heading\n```\n## Notes\n"
    assert anchors_of_text(text) == {"a", "notes", "notes-1"}


def test_the_checker_finds_dead_files_and_sections():
    docs = ROOT / "docs" / "conventions.md"
    real = sorted(anchors(docs.resolve()))[0]
    roots = top_level_dirs()
    good = f"see docs/conventions.md#{real} and [x](conventions.md#{real}) and comfy/samplers.py"
    bad = "see docs/conventions.md" + "#no-such-section, docs/" + "nowhere.md and [x](nowhere.md)"
    assert dead_references(docs, good, roots) == []
    problems = dead_references(docs, bad, roots)
    assert len(problems) == 3, problems
    assert any("no section #no-such-section" in p for p in problems)
    old = "see " + "spec" + "/samplers.md " + "\u00a7" + "2 and (spec c.1)"
    assert old_spec_references(docs, old)
