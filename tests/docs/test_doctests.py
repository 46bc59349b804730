"""The `>>>` examples in keras_pool's docstrings run, on every backend (doctest).

Collects the docstrings of `keras_pool`, `keras_pool.ops`, `keras_pool.registry`
and every module under `keras_pool.layers` (found by walking the package, so a
new module is picked up), one test per docstring with examples. Each runs in
a fresh copy of its module's globals, with ELLIPSIS and NORMALIZE_WHITESPACE.

Shapes print differently per backend (``TensorShape([2, 3])`` on TensorFlow,
``torch.Size([2, 3])`` on PyTorch, ``(2, 3)`` on JAX); the checker reads them
all as the tuple ``(2, 3)``, so a docstring shows shapes as tuples.
"""

import doctest
import importlib
import pkgutil
import re

import pytest

PACKAGE = "keras_pool"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_SHAPE = re.compile(r"(?:TensorShape|torch\.Size)\(\[([^\]]*)\]\)")


def _module_names():
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
        names.append(info.name)
    return sorted(set(names))


def _tests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = {}
    for name in _module_names():
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if test.examples:
                found[test.name] = test
    return [found[name] for name in sorted(found)]


def _as_tuple(match):
    items = [item.strip() for item in match.group(1).split(",") if item.strip()]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


class ShapeChecker(doctest.OutputChecker):
    """doctest's checker, with backend shape reprs read as tuples."""

    def check_output(self, want, got, optionflags):
        return super().check_output(want, _SHAPE.sub(_as_tuple, got), optionflags)


TESTS = _tests()


def test_modules_are_collected_and_have_examples():
    names = _module_names()
    for required in ("keras_pool", "keras_pool.ops", "keras_pool.registry",
                     "keras_pool.layers.lp_pooling"):
        assert required in names
    assert len(TESTS) >= 10, [t.name for t in TESTS]


def test_shape_checker_reads_backend_shapes_as_tuples():
    checker = ShapeChecker()
    assert checker.check_output("(8, 16, 16, 3)\n", "TensorShape([8, 16, 16, 3])\n", FLAGS)
    assert checker.check_output("(8, 16, 16, 3)\n", "torch.Size([8, 16, 16, 3])\n", FLAGS)
    assert checker.check_output("(4,)\n", "torch.Size([4])\n", FLAGS)
    assert not checker.check_output("(8, 16)\n", "torch.Size([8, 15])\n", FLAGS)


@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_docstring_examples_run(test):
    lines = []
    runner = doctest.DocTestRunner(checker=ShapeChecker(), optionflags=FLAGS)
    test.globs = dict(test.globs)  # fresh namespace per run
    result = runner.run(test, out=lines.append, clear_globs=True)
    if result.failed:
        pytest.fail(f"{result.failed} of {result.attempted} examples failed in {test.name}:\n"
                    + "".join(lines), pytrace=False)
