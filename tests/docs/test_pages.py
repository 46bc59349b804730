"""Every ```python block of README.md and of every docs/ page runs, on every backend where it applies;
the README stays short and keeps its quickstart; the changelog names the package's version.

Each block is extracted and executed on its own, in a fresh namespace, in a
temporary working folder. A block that uses the experiment harness or
TensorFlow directly (it mentions ``experiments`` or ``tensorflow``) runs on the
TensorFlow backend only. A block whose opening fence is preceded by the line
``<!-- readme-test: skip -->`` is not run (say why next to it). Keep blocks
that train small: a few dozen examples, one epoch.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README] + sorted((ROOT / "docs").rglob("*.md"))
_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
SKIP_MARK = "<!-- readme-test: skip -->"
_TF_ONLY = re.compile(r"\b(experiments|keras_pool_experiments|tensorflow)\b")
# The README's quickstart, word for word: .ci/run runs the second one.
QUICKSTART = (
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[experiments]" '
    "&& python -m experiments run configs/digits.toml",
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && python -m tests',
)
README_MAX_LINES = 200


def code_blocks(text, language="python"):
    """[(line number, code, skipped)] of the fenced blocks in `language`."""
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group(1).lower() not in (language, "py" if language == "python" else language):
            continue
        line = text.count("\n", 0, match.start()) + 1
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        blocks.append((line, match.group(2), before == SKIP_MARK))
    return blocks


def _name(page):
    return page.relative_to(ROOT).as_posix()


BLOCKS = [(_name(page), line, code, skipped)
          for page in PAGES for line, code, skipped in code_blocks(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_fences_are_balanced(page):
    fences = [line for line in page.read_text(encoding="utf-8").splitlines()
              if line.lstrip().startswith("```")]
    assert len(fences) % 2 == 0, f"unbalanced ``` fences in {_name(page)}"


def test_readme_and_docs_have_runnable_python_blocks():
    assert any(page == "README.md" and not skipped for page, _, _, skipped in BLOCKS)
    assert any(page.startswith("docs/") and not skipped for page, _, _, skipped in BLOCKS)


def test_code_blocks_parser():
    text = ("intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
            f"{SKIP_MARK}\n```python\nraise SystemExit\n```\n")
    assert code_blocks(text) == [(2, "x = 1\n", False), (10, "raise SystemExit\n", True)]
    assert code_blocks(text, "bash") == [(6, "ls\n", False)]


@pytest.mark.parametrize("page, line, code, skipped", BLOCKS,
                         ids=[f"{page}:{line}" for page, line, _, _ in BLOCKS])
def test_python_block_runs(page, line, code, skipped, tmp_path, monkeypatch):
    import keras

    if skipped:
        pytest.skip(f"marked {SKIP_MARK}")
    if _TF_ONLY.search(code) and keras.backend.backend() != "tensorflow":
        pytest.skip("uses the harness or TensorFlow: TensorFlow backend only")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page}:{line}", "exec"), {"__name__": "__readme__"})


def test_readme_is_short_and_keeps_the_quickstart_that_ci_runs():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    (quickstart,) = [code for line, code, _ in code_blocks(text, "bash")
                     if "python -m tests" in code]
    commands = [line for line in quickstart.splitlines() if line and not line.startswith("#")]
    assert tuple(commands) == QUICKSTART
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[test]"\npython -m tests\n' in ci
    assert (ROOT / "configs" / "digits.toml").is_file()
    assert 'pip install -e ".[docs]" && mkdocs serve' in text


def test_every_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    docs = ROOT / "docs"
    for page in PAGES[1:]:
        path = page.relative_to(docs).as_posix()
        if not path.startswith("results/"):  # the studies' own reports, linked from their pages
            assert f": {path}\n" in nav, f"{path} is not in mkdocs.yml's nav"


def test_changelog_names_the_package_version():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (version,) = re.findall(r'^version = "([^"]+)"$', pyproject, re.MULTILINE)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## (\d+\.\d+\.\d+\S*) - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert releases and releases[0] == version, (releases, version)
    assert len(set(releases)) == len(releases)
    init = (ROOT / "keras_pool" / "__init__.py").read_text(encoding="utf-8")
    assert f'__version__ = "{version}"' in init
