# -*- test-case-name: tests.test_reload -*-
"""
Changing a running front's spawned handlers with signals: SIGHUP reloads
them under load with no failed request, SIGTTIN and SIGTTOU add and remove
one; and a front whose spawned handlers cannot boot exits.
"""

from __future__ import annotations

from twisted.internet.error import ProcessTerminated

from ._harness import SystemTestCase, asyncTest


class SpawnSignalTests(SystemTestCase):
    """
    A front with C{--spawn 2} serving C{tests.apps.versioned}.
    """

    timeout = 120

    @asyncTest
    async def test_reloadUnderLoad(self) -> None:
        """
        SIGHUP under load replaces both handlers by new ones running the new
        code, and no request fails or is refused.
        """
        self.workdir.child("version.txt").setContent(b"v1")
        front = await self.startFront("--spawn", "2", "--app", "tests.apps.versioned:app")
        await front.waitForLine("joined", count=2)
        load = self.startSteadyLoad("/?sleep=0.01", inFlight=8, total=20000, duration=90)
        await self.withTimeout(load.until(lambda: len(load.completed) >= 20), 20, "20 answers")
        self.workdir.child("version.txt").setContent(b"v2")
        front.signal("HUP")
        await front.waitForLine("reload: done", timeout=60)
        # The old ones finish what they had, then leave.
        await front.waitForLine("spawn-1 drained and left")
        await front.waitForLine("spawn-2 drained and left")
        # Their last responses may still be on their way to us: at most the
        # 8 requests the load keeps in flight.
        mark = len(load.completed) + 8
        await self.withTimeout(
            load.until(lambda: len(load.completed) >= mark + 20 or bool(load.failures)),
            20,
            "20 answers from the new handlers",
        )
        await self.withTimeout(load.stop(), 20, "the load to end")
        self.assertEqual([f.getErrorMessage() for f in load.failures], [], self.transcript())
        self.assertEqual({r.code for r in load.responses}, {200}, self.transcript())
        versions = [r.body.split()[0] for r in load.responses]
        self.assertEqual(versions[:20], [b"v1"] * 20)
        # Since the old ones left and their last answers came: the new
        # code, from two new processes.
        self.assertEqual(set(versions[mark:]), {b"v2"}, self.transcript())
        pids = {r.body.split()[1] for r in load.responses[mark:]}
        self.assertEqual(len(pids), 2, self.transcript())

    @asyncTest
    async def test_ttinTtou(self) -> None:
        """
        SIGTTIN starts a third handler, which joins; SIGTTOU drains the
        oldest one.
        """
        self.workdir.child("version.txt").setContent(b"v1")
        front = await self.startFront("--spawn", "2", "--app", "tests.apps.versioned:app")
        await front.waitForLine("joined", count=2)
        front.signal("TTIN")
        await front.waitForLine("spawn-3 joined")
        front.signal("TTOU")
        await front.waitForLine("spawn-1 drained and left")
        self.assertEqual((await self.get("/")).code, 200)

    @asyncTest
    async def test_bootFailureExits(self) -> None:
        """
        A front whose spawned handlers cannot import their application
        exits with status 3 after a few tries, saying why, instead of
        restarting them for ever while clients get 503.
        """
        front = self.startTwistd(
            "front",
            self.frontArguments("--spawn", "1", "--app", "tests.apps.unbootable:app"),
        )
        end = await front.whenEnded()
        self.assertIsInstance(end, ProcessTerminated, self.transcript())
        assert isinstance(end, ProcessTerminated)
        self.assertEqual(end.exitCode, 3, self.transcript())
        self.assertEqual(front.countLines("failed to boot 3 times in a row"), 1,
                         self.transcript())

    @asyncTest
    async def test_reloadThatCannotBoot(self) -> None:
        """
        SIGHUP after the application was broken (what C{systemctl reload}
        does after a bad deployment) starts new handlers, which cannot
        boot: the reload is abandoned, the front does not exit, and the
        old handlers go on serving the old code.
        """
        package = self.workdir.child("devapp")
        package.makedirs()
        package.child("__init__.py").setContent((DEVAPP % ("one",)).encode("ascii"))
        front = await self.startFront("--spawn", "2", "--app", "devapp:app")
        await front.waitForLine("joined", count=2)
        package.child("__init__.py").setContent(b"def app(:\n")
        front.signal("HUP")
        await front.waitForLine("reload failed", timeout=60)
        for _ in range(4):
            self.assertResponse(await self.get("/"), 200, b"one")
        self.assertIsNone(front.end, self.transcript())
        self.assertEqual(front.countLines("drained and left"), 0, self.transcript())


DEVAPP = """\
VERSION = b"%s"


def app(environ, start_response):
    start_response("200 OK", [("Content-Length", str(len(VERSION)))])
    return [VERSION]
"""


class DevelopmentReloadTests(SystemTestCase):
    """
    C{mpfront --reload}, as a developer uses it.
    """

    timeout = 120

    @asyncTest
    async def test_editReloads(self) -> None:
        """
        Editing the application's source makes the spawned handler reload:
        the next requests get the new code.
        """
        package = self.workdir.child("devapp")
        package.makedirs()
        package.child("__init__.py").setContent((DEVAPP % ("one",)).encode("ascii"))
        front = await self.startFront("--spawn", "1", "--app", "devapp:app", "--reload")
        await front.waitForLine("joined")
        self.assertEqual((await self.get("/")).body, b"one")
        package.child("__init__.py").setContent((DEVAPP % ("two",)).encode("ascii"))
        await front.waitForLine("reload: done", timeout=60)
        # The old handler takes requests until its BYE reaches the front.
        await front.waitForLine("spawn-1 is draining")
        self.assertEqual((await self.get("/")).body, b"two", self.transcript())

    @asyncTest
    async def test_editSiblingPackageReloads(self) -> None:
        """
        In a project laid out as Django's tutorial lays one out, run from
        its own directory (C{--app devsite.wsgi:app}, whose views are in
        C{devpolls}, a package beside C{devsite}), editing a view makes
        the spawned handler reload: the project's code is watched, not
        only the package that holds C{--app}.
        """
        site = self.workdir.child("devsite")
        polls = self.workdir.child("devpolls")
        site.makedirs()
        polls.makedirs()
        site.child("__init__.py").setContent(b"")
        site.child("wsgi.py").setContent(
            b"from devpolls.views import VERSION\n\n\n"
            + DEVAPP.split("\n", 1)[1].encode("ascii")
        )
        polls.child("__init__.py").setContent(b"")
        polls.child("views.py").setContent(b'VERSION = b"one"\n')
        front = await self.startFront("--spawn", "1", "--app", "devsite.wsgi:app", "--reload")
        await front.waitForLine("joined")
        self.assertEqual((await self.get("/")).body, b"one", self.transcript())
        polls.child("views.py").setContent(b'VERSION = b"two"\n')
        await front.waitForLine("reload: done", timeout=60)
        await front.waitForLine("spawn-1 is draining")
        self.assertEqual((await self.get("/")).body, b"two", self.transcript())
