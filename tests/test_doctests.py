"""Every docstring example in the package runs and prints what it shows.

The examples are collected from the installed ``pathdyn.*`` modules by their real names
(``pytest --doctest-modules`` over the folders would import each file a second time under
another name, and the model registry rightly refuses a second registration).
"""

import doctest
import importlib
import pkgutil

import pytest

import pathdyn

# setup.py (the build script), the command line and the optional engines have no examples;
# importing the torch or dask ones would need their extras.
SKIP = ("pathdyn.setup", "pathdyn.cli", "pathdyn.validation.network.torch_engine", "pathdyn.validation.sweep.distributed")


def _modules():
    for info in pkgutil.walk_packages(pathdyn.__path__, "pathdyn."):
        if not info.name.startswith(SKIP):
            yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"


def test_a_wrong_example_fails():
    # The harness itself can fail: an example whose printed value is wrong is counted.
    parser = doctest.DocTestParser()
    test = parser.get_doctest(">>> 1 + 1\n3\n", {}, "wrong", "wrong", 0)
    runner = doctest.DocTestRunner(verbose=False)
    runner.run(test, out=lambda _text: None)
    assert runner.failures == 1
