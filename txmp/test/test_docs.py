# -*- test-case-name: txmp.test.test_docs -*-
"""
The source tree's documents agree with the code: C{docs/architecture.md}
lists every module, and every changelog fragment is one towncrier gathers.
Skipped where txmp is installed without its source tree.
"""

from __future__ import annotations

import pkgutil
import re
import sys

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

import txmp

if sys.version_info >= (3, 11):
    import tomllib
else:  # Debian's PyPy is 3.9.
    import tomli as tomllib

ROOT = FilePath(txmp.__file__).parent().parent()


def sourceTree(test: SynchronousTestCase) -> FilePath[str]:
    """
    The root of txmp's source tree, or skip C{test} if it is not there.
    """
    if not ROOT.child("pyproject.toml").exists() or not ROOT.child("docs").isdir():
        test.skipTest("txmp is not run from its source tree")
    return ROOT


def packageModules() -> set[str]:
    """
    The modules of txmp, its tests left out.
    """
    found = {"txmp"}
    for module in pkgutil.walk_packages(txmp.__path__, "txmp."):
        if module.name != "txmp.test" and not module.name.startswith("txmp.test."):
            found.add(module.name)
    return found


class ArchitectureTests(SynchronousTestCase):
    """
    C{docs/architecture.md}'s list of modules.
    """

    def test_everyModuleListed(self) -> None:
        """
        The table of C{docs/architecture.md}'s "Modules" section has a row
        for every module of txmp but its tests, and no row for a module
        that does not exist: a module added, renamed or removed must be
        written down there.
        """
        text = sourceTree(self).child("docs").child("architecture.md").getContent()
        section = text.decode("utf-8").split("\n## Modules\n", 1)[1].split("\n## ", 1)[0]
        listed = set(re.findall(r"^\| `(txmp[\w.]*)` \|", section, re.MULTILINE))
        modules = packageModules()
        self.assertEqual(
            (sorted(modules - listed), sorted(listed - modules)), ([], [])
        )


class ChangelogFragmentTests(SynchronousTestCase):
    """
    The fragments of C{newsfragments/} (README, "Changelog fragments").
    """

    def test_fragmentNames(self) -> None:
        """
        Every file in the fragment directory is named C{+NAME.TYPE.md} (or
        C{ISSUE.TYPE.md}) with a type that C{pyproject.toml} declares:
        towncrier leaves any other out of the changelog without a word.
        """
        root = sourceTree(self)
        with root.child("pyproject.toml").open() as f:
            config = tomllib.load(f)["tool"]["towncrier"]
        types = [kind["directory"] for kind in config["type"]]
        self.assertIn("bugfix", types)
        name = re.compile(
            r"(\+[A-Za-z0-9_-]+|[0-9]+)\.(%s)(\.[0-9]+)?\.md\Z"
            % ("|".join(types),)
        )
        directory = root.child(config["directory"])
        fragments = directory.listdir() if directory.isdir() else []
        for fragment in fragments:
            self.assertTrue(name.match(fragment), fragment)
            self.assertTrue(directory.child(fragment).getContent().strip(), fragment)
