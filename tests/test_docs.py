"""The README stays short, and every relative link of the README and the manual leads somewhere.

``mkdocs build --strict`` (in ``make test``) checks the site's links and anchors too, including
the generated pages; this test also covers the README, which the site does not build, and runs
without building anything.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTES = DOCS / "notes"  # other sessions' drafts, folded into the manual by hand (excluded from the site)

LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
EXPLICIT_ID = re.compile(r"\s*\{#([^}\s]+)[^}]*\}\s*$")


def _generated() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The hook's lists of generated pages, read from its source (importing it needs MkDocs)."""
    source = (ROOT / "scripts" / "docs_hooks.py").read_text()
    found: list[tuple[str, ...]] = []
    for name in ("GENERATED_PAGES", "GENERATED_FOLDERS"):
        match = re.search(rf"^{name} = (\(.*?\))$", source, re.M | re.S)
        assert match, f"{name} missing from scripts/docs_hooks.py"
        found.append(tuple(ast.literal_eval(match.group(1))))
    return found[0], found[1]


GENERATED_PAGES, GENERATED_FOLDERS = _generated()


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"(?ms)^(\s*)(```|~~~).*?^\1\2\s*$", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(path: Path) -> set[str]:
    """Heading IDs as MkDocs makes them: explicit ``{#id}``, else the toc extension's slug."""
    seen: dict[str, int] = {}
    found = set()
    for line in _prose(path.read_text()).splitlines():
        match = HEADING.match(line)
        if not match:
            continue
        title = match.group(2)
        explicit = EXPLICIT_ID.search(title)
        if explicit:
            found.add(explicit.group(1))
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("*", "")
        slug = slugify(title, "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}_{count}")
    # Inline code in headings is kept by the toc extension: read those headings again with it.
    for line in path.read_text().splitlines():
        match = HEADING.match(line)
        if match and "`" in match.group(2) and not EXPLICIT_ID.search(match.group(2)):
            found.add(slugify(match.group(2).replace("`", ""), "-"))
    return found


def _pages() -> list[Path]:
    return [ROOT / "README.md"] + sorted(p for p in DOCS.rglob("*.md") if NOTES not in p.parents)


def _is_generated(target: Path) -> bool:
    try:
        relative = target.relative_to(DOCS).as_posix()
    except ValueError:
        return False
    return relative in GENERATED_PAGES or relative.startswith(GENERATED_FOLDERS)


def test_readme_is_at_most_150_lines() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move the detail into docs/"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if page.name == "README.md" or not _is_generated(destination):
            if not destination.exists():
                broken.append(f"{target}: no such file")
                continue
            if anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
                broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_check_catches_a_broken_link_and_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## A section\n\n[ok](#a-section) [bad](#nowhere)\n")
    assert "a-section" in _anchors(page)
    assert "nowhere" not in _anchors(page)
    assert LINK.findall(_prose(page.read_text())) == ["#a-section", "#nowhere"]
    assert LINK.findall(_prose("`[not](a-link)` and\n```\n[no](link)\n```\n[yes](x.md)")) == ["x.md"]


def test_the_site_loads_nothing_from_a_cdn() -> None:
    """Material fetches web fonts and mermaid.js from CDNs unless told otherwise: no fonts, and
    every extra script is a file shipped in docs/ (mermaid among them)."""
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^\s+font: false\s*$", config, re.M)
    scripts = re.findall(r"^extra_javascript:\n((?:\s+- .+\n)+)", config, re.M)
    assert scripts, "no extra_javascript in mkdocs.yml"
    entries = [line.strip()[2:].strip() for line in scripts[0].splitlines()]
    assert any("mermaid" in entry for entry in entries)
    for entry in entries:
        assert "://" not in entry, f"{entry} is fetched from elsewhere"
        assert (DOCS / entry).is_file(), f"{entry} is not in docs/"
        assert (DOCS / entry).with_name("LICENSE").is_file(), f"{entry} has no licence beside it"


def test_source_points_at_docs_pages_and_sections_that_exist() -> None:
    """Docstrings, comments and log messages name ``docs/<page>.md`` (and a section in quotes
    after it); the README is no longer the manual, so nothing in ``src/`` points there."""
    problems = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(ROOT)
        if re.search(r"\bREADME\b(?!\.md)", text.replace("web/README.md", "")):
            problems.append(f"{where}: points at the README")
        for page, section in re.findall(r"(docs/[\w/-]+\.md)(?:,? (?:\(|\"|')([^\"')]+)[\"')])?", text):
            target = ROOT / page
            if not target.exists():
                problems.append(f"{where}: {page} does not exist")
            elif section and slugify(section, "-") not in _anchors(target):
                problems.append(f"{where}: {page} has no section {section!r}")
    assert not problems, "\n".join(problems)
