# -*- test-case-name: txmp.test.test_reload -*-
"""
Tests for L{txmp._reload}, C{mpfront --reload}.
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from txmp import fronttap
from txmp._defaults import RELOAD_INTERVAL
from txmp._reload import CodeWatcher, pythonFiles, sourceRoot


class CodeWatcherTests(SynchronousTestCase):
    """
    Tests for L{CodeWatcher}, with a L{Clock} and files given by a
    function.
    """

    def test_changes(self) -> None:
        """
        Every L{RELOAD_INTERVAL}, files modified, added or removed since the last
        look are reported, once; nothing is reported when nothing changed.
        """
        files: dict[str, float] = {"a.py": 1.0, "b.py": 1.0}
        reports: list[list[str]] = []
        clock = Clock()
        watcher = CodeWatcher(clock, "root", reports.append, lambda root: dict(files))
        watcher.startService()
        clock.advance(RELOAD_INTERVAL)
        self.assertEqual(reports, [])
        files["a.py"] = 2.0
        files["c.py"] = 1.0
        del files["b.py"]
        clock.advance(RELOAD_INTERVAL)
        self.assertEqual(reports, [["a.py", "b.py", "c.py"]])
        clock.advance(RELOAD_INTERVAL)
        self.assertEqual(len(reports), 1)
        watcher.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])


class SourceTests(SynchronousTestCase):
    """
    Tests for L{sourceRoot} and L{pythonFiles}.
    """

    def test_package(self) -> None:
        """
        The root of C{--app} is its top-level package's directory, found
        from the given directory; its C{.py} files are listed, caches and
        hidden directories left out.
        """
        directory = FilePath(self.mktemp())
        package = directory.child("txmp_reload_pkg")
        package.child("sub").makedirs()
        package.child("__pycache__").makedirs()
        for path in [package.child("__init__.py"), package.child("sub").child("wsgi.py"),
                     package.child("__pycache__").child("x.py")]:
            path.setContent(b"")
        root = sourceRoot("txmp_reload_pkg.sub.wsgi:application", directory.path)
        self.assertEqual(root, package.path)
        self.assertEqual(
            sorted(os.path.relpath(p, package.path) for p in pythonFiles(package.path)),
            ["__init__.py", os.path.join("sub", "wsgi.py")],
        )
        self.assertIsNone(sourceRoot("no_such_module_here:app", directory.path))

    def test_needsSpawn(self) -> None:
        """
        C{--reload} without C{--spawn} is a usage error.
        """
        self.assertRaises(usage.UsageError, fronttap.Options().parseOptions, ["--reload"])
        options = fronttap.Options()
        options.parseOptions(["--reload", "--spawn", "1", "--app", "txmp.demo:app"])
        self.assertTrue(options["reload"])
