# -*- test-case-name: txmp.test.test_testcasename -*-
"""
Tests for the C{test-case-name} headers of txmp's modules.

Each module of txmp, its tests and the twistd plugin dropin starts with
C{# -*- test-case-name: MODULES -*-}, naming the test modules that test it
(a test module names itself): C{trial --testmodule FILE} runs them, and a
reader learns where the tests of a module are.  So does each module of the
system tests (C{tests/}), where the source tree has them.  These tests keep
the headers from pointing at modules that were renamed, split or never
written.
"""

from __future__ import annotations

import importlib
import re

from twisted.python.filepath import FilePath
from twisted.scripts.trial import getTestModules
from twisted.trial.runner import TestLoader
from twisted.trial.unittest import SynchronousTestCase

import txmp
from txmp.test.sourcetree import sourceTree

HEADER = re.compile(r"# -\*- test-case-name: \S+ -\*-\n\Z")


def sourceFiles() -> dict[str, FilePath[str]]:
    """
    The files whose headers are checked, by module name: every module of
    the C{txmp} package (its tests included), and the plugin dropin
    installed beside it.
    """
    package = FilePath(txmp.__file__).parent()
    root = package.parent()
    files = {}
    for path in package.walk():
        if path.basename().endswith(".py"):
            parts = path.segmentsFrom(root)
            parts[-1] = parts[-1][: -len(".py")]
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    plugins = root.descendant(["twisted", "plugins", "txmp_plugins.py"])
    files["twisted.plugins.txmp_plugins"] = plugins
    return files


def mentions(testModule: str, module: str) -> bool:
    """
    Whether the source of C{testModule} names C{module}: imports it, says
    its dotted name (as an C{--app} or a docstring does) or its file's name
    (as a script run in a child process is named).
    """
    path = importlib.import_module(testModule).__file__
    assert path is not None
    source = FilePath(path).getContent().decode()
    package, _, name = module.rpartition(".")
    patterns = [
        r"\b" + re.escape(module) + r"\b",
        r"^\s*from " + re.escape(package) + r" import [^\n]*\b" + re.escape(name) + r"\b",
        r"\b" + re.escape(name + ".py") + r"\b",
    ]
    return any(re.search(pattern, source, re.MULTILINE) for pattern in patterns)


class TestCaseNameTests(SynchronousTestCase):
    """
    The C{test-case-name} headers of txmp's modules.
    """

    def setUp(self) -> None:
        self.files = sourceFiles()

    def test_found(self) -> None:
        """
        The modules are found, the plugin dropin among them.
        """
        self.assertIn("txmp.protocol", self.files)
        self.assertIn("txmp.test.test_testcasename", self.files)
        self.assertTrue(self.files["twisted.plugins.txmp_plugins"].exists())

    def test_everyModuleHasOne(self) -> None:
        """
        Every module's first line is its C{test-case-name} header, in the
        form trial reads.
        """
        missing = []
        for module, path in sorted(self.files.items()):
            with path.open() as f:
                first = f.readline().decode("utf-8")
            if not HEADER.match(first) or not getTestModules(path.path):
                missing.append(module)
        self.assertEqual(missing, [])

    def test_systemTestModulesHaveOne(self) -> None:
        """
        So does every module of the system tests (C{tests/}: the tests,
        their harness and applications), where the source tree has them.
        """
        missing = []
        for path in sorted(sourceTree(self).child("tests").walk()):
            if path.basename().endswith(".py"):
                with path.open() as f:
                    first = f.readline().decode("utf-8")
                if not HEADER.match(first) or not getTestModules(path.path):
                    missing.append(path.path)
        self.assertEqual(missing, [])

    def test_namedModulesHaveTests(self) -> None:
        """
        Every module a header names imports and holds tests.
        """
        loader = TestLoader()
        wrong = []
        for module, path in sorted(self.files.items()):
            for name in getTestModules(path.path):
                try:
                    tests = loader.loadAnything(importlib.import_module(name), recurse=True)
                except ImportError as e:
                    wrong.append(f"{module}: {name}: {e}")
                    continue
                if not tests.countTestCases():
                    wrong.append(f"{module}: {name} holds no tests")
        self.assertEqual(wrong, [])

    def test_namedModulesTestIt(self) -> None:
        """
        Every test module a module's header names (but its own) names that
        module: imports it, or uses its dotted name.  (One that does not
        import is L{test_namedModulesHaveTests}'s to report.)
        """
        wrong = []
        for module, path in sorted(self.files.items()):
            for name in getTestModules(path.path):
                try:
                    if name == module or mentions(name, module):
                        continue
                except ImportError:
                    continue
                wrong.append(f"{module}: {name} does not name it")
        self.assertEqual(wrong, [])
