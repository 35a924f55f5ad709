# -*- test-case-name: txmp.test.test_docs -*-
"""
The source tree's documents agree with the code: C{docs/architecture.md}
lists every module and draws which imports which, and every changelog
fragment is one towncrier gathers.
Skipped where txmp is installed without its source tree.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import pkgutil
import re
import shutil
import subprocess
import sys
import tarfile
from typing import Any

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

import txmp
from txmp import fronttap, handlertap
from txmp.test.sourcetree import sourceTree

if sys.version_info >= (3, 11):
    import tomllib
else:  # Debian's PyPy is 3.9.
    import tomli as tomllib


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


def moduleDiagram(text: str) -> str:
    """
    The first C{mermaid} diagram in C{text}, the diagram of modules.
    """
    return text.split("```mermaid\n", 1)[1].split("```", 1)[0]


def diagramArrows(text: str) -> set[tuple[str, str, str]]:
    """
    The arrows of the first C{mermaid} diagram in C{text}: C{(from, to,
    kind)}, the modules named by their boxes' labels, C{kind} C{"-->"} or
    C{"-.->"} (dotted).
    """
    diagram = moduleDiagram(text)
    labels = dict(re.findall(r'(\w+)\["([^"]+)"\]', diagram))
    arrows = set()
    for line in diagram.splitlines():
        match = re.match(r"\s*(\w+) (-->|-\.->) (.+)$", line)
        if match is not None:
            for target in match.group(3).split("&"):
                arrows.add((labels[match.group(1)], labels[target.strip()], match.group(2)))
    return arrows


def moduleImports(name: str, source: str) -> set[tuple[str, str, str]]:
    """
    The imports of other txmp modules in C{source}, the module C{name}, as
    the diagram draws them: C{(name, module, kind)}, modules by their last
    name, C{kind} C{"-.->"} for an import inside a function and C{"-->"}
    for one at the top.  Left out, as the diagram leaves them out: those
    of C{_defaults}, those of the package's own names (C{__version__}),
    and those for the type checker alone (under C{TYPE_CHECKING}).
    """
    tree = ast.parse(source)
    found = set()

    def visit(node: ast.AST, inFunction: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.orelse:
                visit(statement, inFunction)
            return
        if isinstance(node, ast.ImportFrom) and node.module == "txmp":
            imported = [a.name for a in node.names if a.name != "__version__"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("txmp."):
            imported = [node.module.split(".")[1]] if node.module else []
        elif isinstance(node, ast.Import):
            imported = [a.name.split(".")[1] for a in node.names if a.name.startswith("txmp.")]
        else:
            imported = []
        for module in imported:
            if module != "_defaults":
                found.add((name, module, "-.->" if inFunction else "-->"))
        inside = inFunction or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


class ArchitectureDiagramTests(SynchronousTestCase):
    """
    The diagram of modules in C{docs/architecture.md}.
    """

    def test_arrowsAreImports(self) -> None:
        """
        The diagram has an arrow for each import of one txmp module by
        another, dotted where the import is inside a function, and no other
        arrow; the plugin dropin's dotted arrows are the taps it names.  A
        module that starts to use another, or stops, must be drawn so.
        """
        root = sourceTree(self)
        drawn = diagramArrows(root.child("docs").child("architecture.md").getContent().decode())
        found = set()
        for name in packageModules():
            path = FilePath(txmp.__file__).parent()
            if name != "txmp":
                path = path.child(name.split(".")[1] + ".py")
            else:
                path = path.child("__init__.py")
            found |= moduleImports(name.rpartition(".")[2], path.getContent().decode())
        plugins = root.descendant(["twisted", "plugins", "txmp_plugins.py"])
        label = "twisted/plugins/txmp_plugins.py"
        for tap in re.findall(r'"txmp\.(\w+)"', plugins.getContent().decode()):
            found.add((label, tap, "-.->"))
        self.assertEqual((sorted(found - drawn), sorted(drawn - found)), ([], []))

    def test_everyModuleDrawn(self) -> None:
        """
        The diagram has a box for every module of txmp but its tests and
        the package itself, and for the plugin dropin, and no box for a
        module that does not exist: a module that imports no other and
        that no other imports is drawn too.
        """
        text = sourceTree(self).child("docs").child("architecture.md").getContent().decode()
        drawn = set(re.findall(r'\w+\["([^"]+)"\]', moduleDiagram(text)))
        modules = {name.rpartition(".")[2] for name in packageModules() - {"txmp"}}
        modules.add("twisted/plugins/txmp_plugins.py")
        self.assertEqual((sorted(modules - drawn), sorted(drawn - modules)), ([], []))


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


#: What an option table's default cell may say besides a value.
_NO_VALUE = {"none", "off", "required", "as the front", "stay"}

#: Binary units of the tables' defaults.
_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "s": 1}


def optionRows(text: str, header: str | None = None) -> list[tuple[list[str], list[str], str]]:
    """
    The rows of the Markdown tables of C{text} whose first cell names
    options (C{`--name ARG`}), as the options' names, the values of the
    default cell (one per name where the cell lists as many, else one),
    and the whole row; only in the table whose header row starts with
    C{header}, if given.
    """
    rows = []
    inTable = header is None
    for line in text.splitlines():
        if header is not None and line.startswith("| "):
            if line.startswith(header):
                inTable = True
                continue
            if not line.startswith("| `--") and not line.startswith("| ---"):
                inTable = False
        elif not line.startswith("|"):
            inTable = header is None
        if not (inTable and line.startswith("| `--")):
            continue
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        names = re.findall(r"`(--[a-z-]+)", cells[0]) + re.findall(
            r"(?<=\s)(--[a-z-]+)", cells[0]
        )
        names = list(dict.fromkeys(names))
        defaults = [value.strip().strip("`") for value in cells[1].split(",")]
        if len(defaults) != len(names):
            defaults = [cells[1].strip("`")]
        rows.append((names, defaults, line))
    return rows


class OptionTableTests(SynchronousTestCase):
    """
    The option tables of the README and of C{docs/deployment.md} agree
    with C{twistd mpfront --help} and C{twistd mphandler --help}: every
    option named exists, every option is in its command's table, and the
    defaults are the options' own.
    """

    def assertDefault(self, options: Any, name: str, documented: str) -> None:
        """
        Assert that C{documented}, a table's default for C{--name}, is the
        option's default or the default its help text states.
        """
        name = name[2:]
        documented = re.sub(r" \(.*\)$", "", documented)
        if documented in _NO_VALUE:
            value = options.defaults.get(name)
            self.assertTrue(value in (None, 0, []), (name, documented, value))
            return
        number = re.fullmatch(r"([0-9.]+)(?: (%s))?" % "|".join(_UNITS), documented)
        if number is not None and options.defaults.get(name) is not None:
            expected = float(number.group(1)) * _UNITS.get(number.group(2) or "s", 1)
            self.assertEqual(float(options.defaults[name]), expected, name)
            return
        value = options.defaults.get(name)
        if value is not None:
            self.assertEqual(value, documented, name)
        else:
            self.assertIn("default " + documented, options.docs[name], name)

    def checkTable(
        self, options: Any, rows: list[tuple[list[str], list[str], str]], complete: bool
    ) -> None:
        """
        Check the rows of one command's table against its C{options};
        with C{complete}, assert that they name every option.
        """
        known = {name.rstrip("=") for name in options.longOpt}
        mentioned: set[str] = set()
        for names, defaults, line in rows:
            for name in names:
                self.assertIn(name[2:], known, line)
            for name, default in zip(names, defaults):
                self.assertDefault(options, name, default)
            mentioned.update(name[2:] for name in names + re.findall(r"`(--[a-z-]+)", line))
        if complete:
            # (--parent-pid is mpfront's, not an operator's.)
            self.assertEqual(
                sorted(known - mentioned - {"help", "version", "parent-pid"}), [],
                options.synopsis,
            )

    def test_readme(self) -> None:
        """
        The README's two tables, C{mpfront}'s and C{mphandler}'s.
        """
        text = sourceTree(self).child("README.md").getContent().decode("utf-8")
        for command, options in [("mpfront", fronttap.Options()),
                                 ("mphandler", handlertap.Options())]:
            rows = optionRows(text, f"| `{command}` option |")
            self.assertGreater(len(rows), 10, command)
            self.checkTable(options, rows, complete=True)

    def test_deployment(self) -> None:
        """
        The tables of C{docs/deployment.md} (timeouts and limits, all
        C{mpfront}'s).
        """
        text = sourceTree(self).child("docs").child("deployment.md").getContent()
        rows = optionRows(text.decode("utf-8"))
        self.assertGreater(len(rows), 8)
        self.checkTable(fronttap.Options(), rows, complete=False)


class SourceDistributionTests(SynchronousTestCase):
    """
    The source distribution (C{python -m build --sdist}; a wheel is built
    from it) holds what a packager needs to test txmp, and nothing of a
    working tree's.
    """

    def test_wholeTree(self) -> None:
        """
        setuptools' source distribution of the tree holds the system tests
        with their harness and applications, the documents and changelog
        fragments the tests read, the benchmarks, the scripts that run the
        suite, C{py.typed} and the twistd dropin; no C{dropin.cache} (which
        C{twistd} leaves in C{twisted/plugins}) nor compiled file.  Without
        C{MANIFEST.in}, setuptools took C{tests/test*.py} alone, which
        cannot be imported without their harness.
        """
        root = sourceTree(self)
        if importlib.util.find_spec("setuptools") is None:
            raise SkipTest("setuptools is not installed")
        if int(importlib.metadata.version("setuptools").split(".")[0]) < 64:
            # (An older one leaves py.typed, package data, out.)
            raise SkipTest("pyproject.toml's build-system requires setuptools 64")
        # A copy: setuptools keeps every file that an earlier build's
        # txmp.egg-info/SOURCES.txt lists.
        tree = FilePath(self.mktemp())
        shutil.copytree(
            root.path, tree.path,
            ignore=shutil.ignore_patterns(
                ".git", ".venv*", "venv", "*.egg-info", "_trial_temp*", "build", "dist",
                ".mypy_cache", ".hypothesis", "__pycache__",
            ),
        )
        tree.descendant(["twisted", "plugins", "dropin.cache"]).setContent(b"")
        tree.descendant(["txmp", "test", "stale.pyc"]).setContent(b"")
        directory = FilePath(self.mktemp())
        directory.makedirs()
        subprocess.run(
            [sys.executable, "-c", "from setuptools import setup; setup()", "-q",
             "sdist", "--formats=tar", "--dist-dir", directory.path],
            cwd=tree.path, check=True, capture_output=True,
        )
        [archive] = directory.globChildren("*.tar")
        with tarfile.open(archive.path) as tar:
            names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        needed = [
            "CHANGELOG.md", "runtests", ".ci/floor", ".ci/run", "txmp/py.typed",
            "twisted/plugins/txmp_plugins.py",
        ] + [
            "/".join(path.segmentsFrom(root))
            for top in ["tests", "docs", "newsfragments", "benchmarks"]
            for path in root.child(top).walk()
            if path.splitext()[1] in (".py", ".md")
            and "results" not in path.segmentsFrom(root)
        ]
        self.assertIn("tests/_harness/__init__.py", needed)
        self.assertEqual([name for name in needed if name not in names], [])
        self.assertEqual(
            [name for name in names if name.endswith((".pyc", "dropin.cache"))], []
        )
