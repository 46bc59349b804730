"""Every ```python block in README.md runs, on every backend where it applies.

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

README = Path(__file__).resolve().parents[2] / "README.md"
_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
SKIP_MARK = "<!-- readme-test: skip -->"
_TF_ONLY = re.compile(r"\b(experiments|keras_pool_experiments|tensorflow)\b")


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


BLOCKS = code_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_python_blocks_and_balanced_fences():
    text = README.read_text(encoding="utf-8")
    fences = [line for line in text.splitlines() if line.lstrip().startswith("```")]
    assert len(fences) % 2 == 0, "unbalanced ``` fences in README.md"
    assert [b for b in BLOCKS if not b[2]], "README.md has no runnable ```python block"


def test_code_blocks_parser():
    text = ("intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
            f"{SKIP_MARK}\n```python\nraise SystemExit\n```\n")
    assert code_blocks(text) == [(2, "x = 1\n", False), (10, "raise SystemExit\n", True)]
    assert code_blocks(text, "bash") == [(6, "ls\n", False)]


@pytest.mark.parametrize("line, code, skipped", BLOCKS,
                         ids=[f"README.md:{line}" for line, _, _ in BLOCKS])
def test_readme_python_block_runs(line, code, skipped, tmp_path, monkeypatch):
    import keras

    if skipped:
        pytest.skip(f"marked {SKIP_MARK}")
    if _TF_ONLY.search(code) and keras.backend.backend() != "tensorflow":
        pytest.skip("uses the harness or TensorFlow: TensorFlow backend only")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
