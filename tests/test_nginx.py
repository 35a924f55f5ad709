# -*- test-case-name: tests.test_nginx -*-
"""
The recipe of docs/deployment.md, "nginx in front", run as written: nginx
on TCP proxying to a front on a UNIX socket with C{--trusted-proxy unix}.
Needs nginx (C{.ci/run} installs it); paths and the port are this test's.
"""

from __future__ import annotations

import json
import os
import shutil

from twisted.internet.task import deferLater

from ._harness import PROJECT_ROOT, SystemTestCase, TwistdProcess, asyncTest, freePort, reactor

DEPLOYMENT = PROJECT_ROOT.child("docs").child("deployment.md")
NGINX = shutil.which("nginx") or next(
    (path for path in ["/usr/sbin/nginx"] if os.path.exists(path)), None
)


def recipe() -> str:
    """
    The nginx configuration of the recipe, unindented.
    """
    text = DEPLOYMENT.getContent().decode("utf-8")
    block = text.split("<!-- nginx recipe: tests/test_nginx.py runs this block -->", 1)[1]
    block = block.split("<!-- end of nginx recipe -->", 1)[0]
    return "\n".join(line[4:] for line in block.splitlines() if line.startswith("    "))


class NginxTests(SystemTestCase):
    """
    nginx in front of a front on a UNIX socket.
    """

    if NGINX is None:
        skip = "nginx is not installed (.ci/run installs it)"

    async def listening(self, port: int, process: TwistdProcess) -> None:
        """
        Wait until something accepts connections on C{port}: nginx says
        nothing when it is ready, so try every 50 ms, for 10 s at most.
        """
        for _ in range(200):
            if await self.accepts(port):
                return
            await deferLater(reactor, 0.05)
        self.fail(f"nothing listens on port {port}" + self.transcript())

    @asyncTest
    async def test_recipe(self) -> None:
        """
        Through nginx, the application sees the client's address (from a
        trusted UNIX-socket peer) and nginx's request id, which the
        response carries back, and a client's own C{Forwarded} and
        C{X-Forwarded-Host} choose neither its address nor the server's
        name and port.
        """
        socket = self.workdir.child("http.sock").path
        await self.throughNginx(
            f"unix:{socket}:mode=666", "unix", f"unix:{socket}"
        )

    @asyncTest
    async def test_recipeOverTCP(self) -> None:
        """
        The same with the front on TCP, trusting nginx's address.
        """
        port = freePort()
        await self.throughNginx(
            f"tcp:{port}:interface=127.0.0.1", "127.0.0.1", f"127.0.0.1:{port}"
        )

    @asyncTest
    async def test_recipeUnderPrefix(self) -> None:
        """
        The recipe's C{location} moved under C{/app/}, as "Under a path
        prefix" in docs/deployment.md has it, with the handler given
        C{--script-name /app}: Django serves its routes there, and its
        C{request.path} (whence its URLs) holds the prefix.
        """
        socket = self.workdir.child("http.sock").path
        front = self.startTwistd("front", [
            "mpfront", "--listen", f"unix:{socket}:mode=666", "--trusted-proxy", "unix",
            "--send", self.sendAddress, "--return", self.returnAddress,
        ])
        await front.waitForLine("mpfront ready")
        await self.startHandler(
            "h1", "tests.apps.djangoapp:app", "--script-name", "/app", front=front
        )
        site = recipe()
        self.assertIn("location / {", site)
        await self.startNginx(site.replace("location / {", "location /app/ {"), f"unix:{socket}")
        result = await self.get("/app/word/hi")
        self.assertEqual(result.code, 200, self.transcript())
        self.assertEqual(
            json.loads(result.body), {"path": "/app/word/hi", "word": "hi", "name": ""}
        )

    async def startNginx(self, site: str, upstream: str) -> None:
        """
        Start nginx serving C{site} (the recipe's configuration, changed as
        a test needs) on L{httpPort}, its upstream server C{upstream}, and
        wait until it accepts connections.
        """
        site = site.replace("unix:/run/txmp/http.sock", upstream).replace(
            "listen 80;", f"listen 127.0.0.1:{self.httpPort};"
        )
        prefix = self.workdir.child("nginx")
        prefix.makedirs()
        prefix.child("nginx.conf").setContent(
            (
                "daemon off;\nmaster_process off;\nerror_log stderr warn;\n"
                f"pid {prefix.path}/nginx.pid;\n"
                "events { worker_connections 64; }\n"
                "http {\n    access_log off;\n"
                f"    client_body_temp_path {prefix.path}/body;\n"
                f"    proxy_temp_path {prefix.path}/proxy;\n"
                + site + "\n}\n"
            ).encode("utf-8")
        )
        assert NGINX is not None
        nginx = self.startProcess(
            "nginx", [NGINX, "-p", prefix.path, "-c", prefix.child("nginx.conf").path]
        )
        await self.listening(self.httpPort, nginx)

    async def throughNginx(self, listen: str, trusted: str, upstream: str) -> None:
        """
        Run the recipe with the front on C{listen} trusting C{trusted}, and
        nginx's upstream server C{upstream}; check what the application
        sees.
        """
        front = self.startTwistd("front", [
            "mpfront", "--listen", listen, "--trusted-proxy", trusted,
            "--send", self.sendAddress, "--return", self.returnAddress,
        ])
        await front.waitForLine("mpfront ready")
        await self.startHandler("h1", "tests.apps.recorder:app", front=front)
        await self.startNginx(recipe(), upstream)
        result = await self.get("/through")
        self.assertEqual(result.code, 200, self.transcript())
        lines = result.body.decode("latin-1").splitlines()
        self.assertEqual(lines[0], "127.0.0.1 http", self.transcript())
        self.assertIn("HTTP_X_REQUEST_ID", lines)
        requestId = result.header("x-request-id")
        self.assertRegex(requestId or "", r"^[0-9a-f]{32}$")
        # A Forwarded field of the client's own does not choose its
        # address: the recipe drops it (without that, the front answers
        # 400, as txmp.test.test_front ForwardedTests shows).  Nor does an
        # X-Forwarded-Host of its own choose the server's name and port:
        # the recipe sets it, to the host nginx served (without, SERVER_NAME
        # and SERVER_PORT would be evil.example and 6666).
        spoofed = await self.get(
            "/spoofed?server",
            headers={
                "Forwarded": "for=198.51.100.7;proto=https",
                "X-Forwarded-Host": "evil.example:6666",
            },
        )
        self.assertEqual(spoofed.code, 200, self.transcript())
        lines = spoofed.body.decode("latin-1").splitlines()
        self.assertEqual(lines[0], "127.0.0.1 http", self.transcript())
        # (The front's own port over TCP; on a UNIX socket, the port of
        # the forwarded host, which names none: the scheme's.)
        port = upstream.rpartition(":")[2] if upstream.startswith("127.") else 80
        self.assertEqual(lines[1], f"server 127.0.0.1 {port}", self.transcript())
