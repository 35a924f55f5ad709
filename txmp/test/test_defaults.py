# -*- test-case-name: txmp.test.test_defaults -*-
"""
Tests for L{txmp._defaults}: every default defined once, there, and the
options' defaults, the public interface, as they are documented.
"""

from __future__ import annotations

import ast
import importlib
from typing import Any, ClassVar

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

import txmp
from txmp import _defaults, fronttap, handlertap
from txmp._dispatch import Dispatcher
from txmp._handler import FrontLink
from txmp.testing import MemorySocket

_PACKAGE = FilePath(txmp.__file__).parent()


def _moduleLevelNames(path: FilePath) -> set[str]:
    """
    The names a module assigns at its top level (imports excluded).
    """
    tree = ast.parse(path.getContent())
    names: set[str] = set()
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                names.add(target.id)
    return names


def _constants() -> dict[str, object]:
    """
    The constants of L{txmp._defaults}, by name.
    """
    return {
        name: value
        for name, value in vars(_defaults).items()
        if name.isupper() and not name.startswith("_")
    }


class DefinedOnceTests(SynchronousTestCase):
    """
    Each default is defined in L{txmp._defaults} and nowhere else.
    """

    def test_notRedefined(self) -> None:
        """
        No other module of txmp assigns a name that L{txmp._defaults}
        defines: the others import it.
        """
        names = set(_constants())
        found = []
        for path in sorted(_PACKAGE.globChildren("*.py")):
            if path.basename() == "_defaults.py":
                continue
            for name in sorted(_moduleLevelNames(path) & names):
                found.append(f"{path.basename()}: {name}")
        self.assertEqual(found, [])

    def test_importsNothingOfTxmp(self) -> None:
        """
        L{txmp._defaults} imports no other module of txmp, so that a value
        set in it before they are imported (C{benchmarks/bigbody.py
        --variant}) is the value they all take.
        """
        tree = ast.parse(_PACKAGE.child("_defaults.py").getContent())
        imported: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.append(node.module or "")
        self.assertEqual([name for name in imported if name.startswith("txmp")], [])

    def test_oldNamesImportable(self) -> None:
        """
        The modules that use a constant still have it under its name (the
        same object), where tests, benchmarks (C{--variant
        txmp._front.SEND_LIMIT=128K}) and users found it before.
        """
        for path in [
            "txmp._front.SEND_LIMIT",
            "txmp._front.SMALL_BODY",
            "txmp._front.PIPELINE_BUFFER",
            "txmp._front.DEFAULT_MAX_BODY",
            "txmp._front.ABORT_TIMEOUT",
            "txmp._dispatch.GRANT_DIVISOR",
            "txmp._handler.INPUT_WINDOW",
            "txmp._handler.MAX_FRAME",
            "txmp._wsgi.BODY_BATCH",
            "txmp._wsgi.FILE_CHUNK_SIZE",
            "txmp._http.DEFAULT_HEADER_TIMEOUT",
            "txmp._http.MAX_CHUNK_LINE",
            "txmp.protocol.MAX_CREDITS",
            "txmp.fronttap.DEFAULT_WINDOW",
            "txmp.fronttap.DEFAULT_SEND",
            "txmp.fronttap.DEFAULT_RETURN",
            "txmp._frontservice.HIGH_WATER_MARK",
            "txmp._frontservice.LARGE_FRAME",
            "txmp._frontservice.BOOT_FAILURES",
            "txmp.handlertap.DEFAULT_THREADS",
            "txmp._handlerservice.HIGH_WATER_MARK",
        ]:
            moduleName, _, name = path.rpartition(".")
            module = importlib.import_module(moduleName)
            self.assertIs(getattr(module, name), getattr(_defaults, name), path)


class OptionDefaultsTests(SynchronousTestCase):
    """
    The taps' option defaults come from L{txmp._defaults} and are the
    values documented in C{docs/deployment.md}: they are the public
    interface.
    """

    # The options both taps have, and their defaults.
    shared: ClassVar[dict[str, object]] = {
        "log-format": "text",
        "log-level": "info",
        "heartbeat": 1.0,
        "graceful-timeout": 30.0,
        "max-requests": 0,
        "max-requests-jitter": 0,
    }

    def assertDefaults(self, options: Any, expected: dict[str, object]) -> None:
        """
        Assert that C{options} default to the L{shared} values and to
        C{expected}.
        """
        expected = {**self.shared, **expected}
        self.assertEqual({key: options[key] for key in expected}, expected)

    def test_front(self) -> None:
        """
        C{twistd mpfront}'s options default to these values.
        """
        self.assertDefaults(fronttap.Options(), {
            "timeout": 30.0,
            "queue-timeout": 10.0,
            "max-queue": 1000,
            "window": 2 * 1024 * 1024,
            "max-body": 1 << 30,
            "header-timeout": 15.0,
            "body-timeout": 60.0,
            "idle-timeout": 15.0,
            "max-request-line": 8190,
            "max-headers": 100,
            "max-header-bytes": 16384,
            "access-log-format": "combined",
            "spawn": 0,
            "max-message": 16 * 1024 * 1024,
        })

    def test_handler(self) -> None:
        """
        C{twistd mphandler}'s options default to these values.
        """
        self.assertDefaults(handlertap.Options(), {"threads": 4, "profile-seconds": 30.0})

    def test_dispatcherAsFront(self) -> None:
        """
        A L{Dispatcher} made without options (as the unit tests make it)
        has the defaults of C{mpfront}'s options.
        """
        options = fronttap.Options()
        dispatcher = Dispatcher(None, MemorySocket(router=True))  # type: ignore[arg-type]
        self.assertEqual(
            (
                dispatcher.timeout,
                dispatcher.queueTimeout,
                dispatcher.maxQueue,
                dispatcher.registry.heartbeat,
                dispatcher.window,
            ),
            (
                options["timeout"],
                options["queue-timeout"],
                options["max-queue"],
                options["heartbeat"],
                options["window"],
            ),
        )

    def test_linkAsHandler(self) -> None:
        """
        A L{FrontLink} made without a heartbeat has C{mphandler}'s default.
        """
        link = FrontLink(
            None, None, MemorySocket(), MemorySocket(), "h", 1  # type: ignore[arg-type]
        )
        self.assertEqual(link.heartbeat, handlertap.Options()["heartbeat"])
