# -*- test-case-name: txmp.test.test_reload -*-
"""
C{mpfront --reload}, for development: watch the application's source
files, and reload the spawned handlers when one changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Callable

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from txmp._defaults import RELOAD_INTERVAL
from txmp._options import findSpec


def sourceRoot(spec: str, directory: str, pythonpath: Sequence[str] = ()) -> str | None:
    """
    What C{--reload} watches for C{--app}, whose top-level package (or
    module, if it is not in a package) is looked up as spawned handlers
    will (L{findSpec}: on their C{pythonpath}, then in their working
    C{directory}): the directory of C{pythonpath}, or that working
    directory, where it is, as when a project is run from its own
    directory (a Django project's other packages, such as the application
    beside its C{mysite} package, and the modules a one-file Flask
    application imports, are in it too); else the package's directory, or
    the module's file.

    @param directory: the handlers' working directory.
    @param pythonpath: the handlers' C{--pythonpath}, absolute.
    @return: a directory or a file; L{None} if the module cannot be found.
    """
    try:
        found = findSpec(spec.partition(":")[0].split(".")[0], directory, pythonpath)
    except ValueError:
        return None
    if found is None or not found.origin or found.origin in ("built-in", "frozen"):
        return None
    if found.submodule_search_locations:
        location = next(iter(found.submodule_search_locations))
    else:
        location = found.origin
    parent = os.path.realpath(os.path.dirname(location))
    for root in [*pythonpath, directory]:
        if os.path.realpath(root) == parent:
            return root
    return location


def _skipped(parent: str, name: str) -> bool:
    """
    Whether L{pythonFiles} leaves out the directory C{name} in C{parent}:
    a hidden one (C{.git}, C{.venv}), a bytecode cache, or a virtual
    environment (one with a C{pyvenv.cfg}: C{venv}, virtualenv, uv and
    Poetry make one), whose installed packages are not the application's
    code.
    """
    return name.startswith(".") or name == "__pycache__" or os.path.isfile(
        os.path.join(parent, name, "pyvenv.cfg")
    )


def pythonFiles(root: str) -> Iterator[str]:
    """
    The C{.py} files under C{root} (or C{root} itself, if it is a file),
    but for those in directories L{_skipped}, and in directories below
    two levels without any (as Werkzeug's reloader, which looks at a
    project's directory as often: the uploads of a C{media} directory, or
    a C{node_modules}, are not walked through every second).
    """
    if os.path.isfile(root):
        yield root
        return
    # (Without a trailing slash, which would make os.walk's directories
    # one level deeper than they are below the root's parent.)
    root = os.path.normpath(root)
    hasPython = {os.path.dirname(root): True}
    for directory, subdirectories, files in os.walk(root):
        found = False
        for name in files:
            if name.endswith(".py"):
                found = True
                yield os.path.join(directory, name)
        hasPython[directory] = found
        if found or hasPython.get(os.path.dirname(directory), False):
            subdirectories[:] = [d for d in subdirectories if not _skipped(directory, d)]
        else:
            subdirectories[:] = []


class CodeWatcher(Service):
    """
    Calls C{changed} with the files that changed (added, removed or
    modified) since the last look, every L{RELOAD_INTERVAL} seconds.

    @ivar root: what it watches: a directory's C{.py} files
        (L{pythonFiles}), or one file.
    """

    _log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        root: str,
        changed: Callable[[list[str]], None],
        mtimes: Callable[[str], dict[str, float]] | None = None,
    ) -> None:
        self.root = root
        self._changed = changed
        self._mtimes = mtimes or _mtimes
        self._loop = LoopingCall(self._look)
        self._loop.clock = clock
        self._seen: dict[str, float] = {}

    def startService(self) -> None:
        Service.startService(self)
        self._seen = self._mtimes(self.root)
        self._log.info(
            "mpfront --reload: watching {count} files under {root}",
            count=len(self._seen), root=self.root,
        )
        self._loop.start(RELOAD_INTERVAL, now=False)

    def stopService(self) -> None:
        Service.stopService(self)
        if self._loop.running:
            self._loop.stop()

    def _look(self) -> None:
        now = self._mtimes(self.root)
        changed = sorted(
            path for path in now.keys() | self._seen.keys()
            if now.get(path) != self._seen.get(path)
        )
        self._seen = now
        if changed:
            self._changed(changed)


def _mtimes(root: str) -> dict[str, float]:
    result = {}
    for path in pythonFiles(root):
        try:
            result[path] = os.stat(path).st_mtime
        except OSError:
            pass
    return result
