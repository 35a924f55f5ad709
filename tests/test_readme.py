# -*- test-case-name: tests.test_readme -*-
"""
The README's commands, run as a newcomer runs them: the demo's C{twistd}
command, the three commands that run the halves separately from one
project directory, and those that make CURVE keys and run a front and a
handler with them (from one directory, with the loopback address).
Port numbers are renumbered so that the test never collides with
anything else on the machine; nothing else is changed.
"""

from __future__ import annotations

import re
import shlex

from ._harness import (
    PROJECT_APP,
    PROJECT_ROOT,
    SystemTestCase,
    TwistdProcess,
    asyncTest,
    freePort,
)

README = PROJECT_ROOT.child("README.md")


def sectionCommands(title: str) -> list[str]:
    """
    The indented command lines of the README section C{title} that start
    C{twistd}, or that run one after C{&&}.
    """
    text = README.getContent().decode("utf-8")
    section = text.split("\n## " + title + "\n", 1)[1].split("\n## ", 1)[0]
    commands = []
    for line in section.splitlines():
        if not line.startswith("    "):
            continue
        for part in line.strip().split(" && "):
            # (Those on other hosts need CURVE keys and other addresses.)
            if part.split(" ", 1)[0].endswith("twistd") and "10.0.0.1" not in part:
                commands.append(part)
    return commands


def curveCommands() -> list[str]:
    """
    The README's commands for handlers on other hosts, with CURVE: the
    line that makes the keys, then the front's and the handler's commands,
    each with its continuation lines joined.
    """
    text = README.getContent().decode("utf-8")
    section = text.split("\n## Running the halves separately\n", 1)[1].split("\n## ", 1)[0]
    joined = re.sub(r"\\\n\s*", "", section)
    return [
        line.strip() for line in joined.splitlines()
        if line.startswith("    ") and ("10.0.0.1" in line or "txmp.keys" in line)
    ]


class ReadmeTests(SystemTestCase):
    """
    The README's commands work as written.
    """

    def renumber(self, command: str, ports: dict[int, int]) -> list[str]:
        """
        C{command} as arguments, its port numbers replaced by C{ports}, and
        C{twistd} the one installed beside this Python.
        """
        for old, new in ports.items():
            command = re.sub(rf"(?<=[:/]){old}\b|(?<=:){old}(?=:)",
                             str(new), command)
        words = shlex.split(command)
        words[0] = "twistd"
        return words

    def startAsWritten(self, label: str, argv: list[str]) -> TwistdProcess:
        """
        Start C{argv} in L{workdir} exactly as given (no options added),
        found on C{PATH} as a shell would.
        """
        return self.startProcess(label, ["/usr/bin/env", *argv])

    @asyncTest
    async def test_halvesSeparately(self) -> None:
        """
        The three commands of "Running the halves separately", run one after
        the other in one project directory holding C{myproject/wsgi.py},
        give a front with two handlers serving that project.
        """
        package = self.workdir.child("myproject")
        package.makedirs()
        package.child("__init__.py").setContent(b"")
        package.child("wsgi.py").setContent(PROJECT_APP)
        commands = sectionCommands("Running the halves separately")
        self.assertEqual(len(commands), 3, commands)
        send, ret = freePort(), freePort()
        ports = {8080: self.httpPort, 5556: send, 5555: ret}
        front = self.startAsWritten("front", self.renumber(commands[0], ports))
        await front.waitForLine("mpfront ready")
        for label, command in zip(["h1", "second"], commands[1:]):
            argv = self.renumber(command, ports)
            # The handlers rely on the default addresses, which are the
            # front's defaults (test_tap checks that); here they are the
            # renumbered ones.
            argv += ["--send", f"tcp://127.0.0.1:{send}",
                     "--return", f"tcp://127.0.0.1:{ret}"]
            handler = self.startAsWritten(label, argv)
            await handler.waitForLine("started")
        await front.waitForLine("joined", count=2)
        result = await self.get("/")
        self.assertResponse(result, 200, b"myproject says hello\n")

    @asyncTest
    async def test_curve(self) -> None:
        """
        The README's CURVE commands, run one after the other in one
        directory (the front's and the handler's name the same C{keys/}),
        give a front that the handler joins and that serves its
        application; only the host's address and the ports are changed.
        """
        package = self.workdir.child("myproject")
        package.makedirs()
        package.child("__init__.py").setContent(b"")
        package.child("wsgi.py").setContent(PROJECT_APP)
        keys, frontCommand, handlerCommand = curveCommands()
        made = self.startProcess("keys", ["/bin/sh", "-c", keys])
        await made.whenEnded()
        self.assertTrue(self.workdir.descendant(["allowed", "b.key"]).exists(),
                        self.transcript())
        ports = {80: self.httpPort, 5556: freePort(), 5555: freePort()}
        front = self.startAsWritten(
            "front", self.renumber(frontCommand.replace("10.0.0.1", "127.0.0.1"), ports)
        )
        await front.waitForLine("mpfront ready")
        handler = self.startAsWritten(
            "handler", self.renumber(handlerCommand.replace("10.0.0.1", "127.0.0.1"), ports)
        )
        await handler.waitForLine("registered with front")
        await front.waitForLine("joined")
        result = await self.get("/")
        self.assertResponse(result, 200, b"myproject says hello\n")

    @asyncTest
    async def test_demo(self) -> None:
        """
        The demo's C{twistd} command starts a front with two spawned
        handlers serving C{txmp.demo:app}.
        """
        [command] = sectionCommands("Two commands")
        front = self.startAsWritten(
            "demo", self.renumber(command, {8080: self.httpPort})
        )
        await front.waitForLine("mpfront ready")
        await front.waitForLine("joined", count=2)
        result = await self.get("/")
        self.assertEqual(result.code, 200, self.transcript())
        self.assertIn(b"Hello from txmp", result.body, self.transcript())
