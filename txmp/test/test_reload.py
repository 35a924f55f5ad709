# -*- test-case-name: txmp.test.test_reload -*-
"""
Tests for L{txmp._reload}, C{mpfront --reload}.
"""

from __future__ import annotations

import os
from typing import cast

from twisted.application.service import IServiceCollection
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

import txmp
from txmp import fronttap
from txmp._defaults import RELOAD_INTERVAL
from txmp._interfaces import IFrontReactor
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
        The root of an C{--app} found elsewhere than in the working
        directory (installed, or on C{sys.path}) is its top-level
        package's directory; a module that cannot be found has none.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.assertEqual(
            sourceRoot("txmp.demo:app", directory.path), os.path.dirname(txmp.__file__)
        )
        self.assertIsNone(sourceRoot("no_such_module_here:app", directory.path))

    def test_workingDirectory(self) -> None:
        """
        The root of an C{--app} whose top-level package, or module, is in
        the working directory is that directory (the project's other
        packages are the application's code too, as a Django
        application is beside the project's package); its C{.py} files
        are listed, caches, hidden directories, virtual environments and
        directories below two levels without any left out.
        """
        directory = FilePath(self.mktemp())
        package = directory.child("txmp_reload_pkg")
        package.child("sub").makedirs()
        package.child("__pycache__").makedirs()
        sibling = directory.child("txmp_reload_views")
        sibling.makedirs()
        venv = directory.child("venv")
        venv.child("lib").makedirs()
        venv.child("pyvenv.cfg").setContent(b"home = /usr/bin\n")
        directory.child(".git").makedirs()
        # No .py file in media, nor in media/uploads: below them is not
        # looked at.
        directory.child("media").child("uploads").child("2024").makedirs()
        for path in [
            directory.child("media").child("uploads").child("2024").child("deep.py"),
            package.child("__init__.py"),
            package.child("sub").child("wsgi.py"),
            package.child("__pycache__").child("x.py"),
            sibling.child("__init__.py"),
            sibling.child("views.py"),
            directory.child("flatapp.py"),
            venv.child("lib").child("installed.py"),
            directory.child(".git").child("hook.py"),
        ]:
            path.setContent(b"")
        for spec in ["txmp_reload_pkg.sub.wsgi:application", "flatapp:app"]:
            self.assertEqual(sourceRoot(spec, directory.path), directory.path, spec)
        # The same with a trailing slash (a --chdir of "app/").
        for root in [directory.path, directory.path + os.sep]:
            self.assertEqual(
                sorted(os.path.relpath(p, directory.path) for p in pythonFiles(root)),
                [
                    "flatapp.py",
                    os.path.join("txmp_reload_pkg", "__init__.py"),
                    os.path.join("txmp_reload_pkg", "sub", "wsgi.py"),
                    os.path.join("txmp_reload_views", "__init__.py"),
                    os.path.join("txmp_reload_views", "views.py"),
                ],
                root,
            )
        # A root without a .py file, and one below it: two levels down,
        # not looked at, whether the root ends with a slash or not.
        empty = FilePath(self.mktemp())
        empty.child("a").child("b").makedirs()
        empty.child("a").child("b").child("x.py").setContent(b"")
        for root in [empty.path, empty.path + os.sep]:
            self.assertEqual(list(pythonFiles(root)), [], root)

    def test_needsSpawn(self) -> None:
        """
        C{--reload} without C{--spawn} is a usage error.
        """
        self.assertRaises(usage.UsageError, fronttap.Options().parseOptions, ["--reload"])
        options = fronttap.Options()
        options.parseOptions(["--reload", "--spawn", "1", "--app", "txmp.demo:app"])
        self.assertTrue(options["reload"])

    def test_handlersPythonpath(self) -> None:
        """
        An C{--app} found on the C{pythonpath} that the spawned handlers
        get from the C{[mphandler]} table of the front's C{--config} file
        is watched there, with the whole of that directory, where they
        import it from.
        """
        directory = FilePath(self.mktemp())
        package = directory.child("code").child("txmp_reload_elsewhere")
        package.makedirs()
        package.child("__init__.py").setContent(b"")
        package.child("wsgi.py").setContent(b"app = None\n")
        config = directory.child("txmp.toml")
        config.setContent(
            f'[mphandler]\npythonpath = "{directory.child("code").path}"\n'.encode()
        )
        self.patch(os, "environ", {})
        options = fronttap.Options()
        options.parseOptions(["--config", config.path, "--reload", "--spawn", "1",
                              "--app", "txmp_reload_elsewhere.wsgi:app"])
        top = fronttap.makeService(options, cast(IFrontReactor, MemoryReactorClock()))
        roots = [s.root for s in IServiceCollection(top) if isinstance(s, CodeWatcher)]
        self.assertEqual(roots, [directory.child("code").path])
