"""The docs cannot drift from the code: every snippet a page shows is the text between its
``# [START ...]`` / ``# [END ...]`` markers in an example DAG, every relative link and anchor in the
README, CONTRIBUTING.md and docs/ resolves, and every how-to page the provider info lists exists.

``python -m tests.unit.test_docs --write`` copies the marked blocks into the pages."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_milvus.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
# A snippet: the comment naming file and marker, then a fenced Python block.
SNIPPET = re.compile(r"<!-- snippet: (\S+) (\S+) -->\n```python\n(.*?)```\n", re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def marked_block(path: Path, marker: str) -> str:
    text = path.read_text()
    found = re.search(
        rf"^[ \t]*# \[START {re.escape(marker)}\]\n(.*?)^[ \t]*# \[END {re.escape(marker)}\]$", text, re.S | re.M
    )
    assert found, f"{path.relative_to(ROOT)} has no [START {marker}] ... [END {marker}] block"
    return textwrap.dedent(found.group(1))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_snippets_are_the_marked_blocks_of_the_example_dags(page):
    for file, marker, shown in SNIPPET.findall(page.read_text()):
        expected = marked_block(ROOT / file, marker)
        assert shown == expected, f"{page.relative_to(ROOT)}: the snippet {marker} differs from {file}"
    comments = re.findall(r"^<!-- snippet:", page.read_text(), re.M)
    assert len(comments) == len(SNIPPET.findall(page.read_text())), (
        f"{page.relative_to(ROOT)}: a snippet comment not followed by a ```python block"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.relative_to(ROOT)}: link to {target} does not resolve"
        if anchor:
            assert resolved.suffix == ".md" and anchor in anchors(resolved), (
                f"{page.relative_to(ROOT)}: {target}: no such heading in {resolved.relative_to(ROOT)}"
            )


def test_how_to_pages_of_the_provider_info_exist():
    [integration] = get_provider_info()["integrations"]
    pages = integration["how-to-guide"]
    assert pages
    for page in pages:
        assert (ROOT / page.lstrip("/")).is_file(), page


def _write() -> None:
    for page in PAGES:
        text = page.read_text()

        def fill(match: re.Match[str]) -> str:
            file, marker, _ = match.groups()
            return f"<!-- snippet: {file} {marker} -->\n```python\n{marked_block(ROOT / file, marker)}```\n"

        page.write_text(SNIPPET.sub(fill, text))


if __name__ == "__main__" and "--write" in sys.argv:
    _write()


def test_the_readme_dag_builds():
    code = re.search(r"## A short DAG\n\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert code, "README.md has no short DAG"
    namespace: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    assert {"bulk_insert", "wait_for_index", "refresh", "check"} <= set(namespace)
