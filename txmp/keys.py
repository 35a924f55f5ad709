# -*- test-case-name: txmp.test.test_keys -*-
"""
C{python -m txmp.keys [DIRECTORY] NAME}: make a CURVE key pair for a front
or a handler.

Writes, as pyzmq's C{zmq.auth.create_certificates} and czmq's C{zcert} do,
C{NAME.key_secret} (the public and the secret key, mode 0600: give it to
C{--curve-secret-key} of the process it belongs to, and to no one else)
and C{NAME.key} (the public certificate: copy a handler's into the front's
C{--curve-allow} directory, the front's to every handler's
C{--curve-server-key}).  C{NAME} may be a path (C{/etc/txmp/front});
C{DIRECTORY NAME} is the same as C{DIRECTORY/NAME}.  Certificates made by
pyzmq's or czmq's tools work the same way.
"""

from __future__ import annotations

import os
import sys

from txmp._zmq import PUBLIC_SUFFIX, SECRET_SUFFIX, createKeyPair, curveAvailable

USAGE = "usage: python -m txmp.keys [DIRECTORY] NAME"


def main(argv: list[str] | None = None) -> int:
    """
    Run the command; return its exit status.
    """
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or any(arg.startswith("-") for arg in args):
        print(USAGE, file=sys.stderr)
        return 2
    if len(args) == 2:
        directory, name = args
    else:
        directory, name = os.path.split(args[0])
    directory = directory or "."
    if not name or os.sep in name or name.startswith("."):
        print(f"txmp.keys: {name!r} is not a file name", file=sys.stderr)
        return 2
    if not curveAvailable():
        print("txmp.keys: this libzmq has no CURVE support", file=sys.stderr)
        return 1
    for suffix in (SECRET_SUFFIX, PUBLIC_SUFFIX):
        if os.path.exists(os.path.join(directory, name + suffix)):
            print(
                f"txmp.keys: {os.path.join(directory, name + suffix)} exists; "
                "not overwriting a key",
                file=sys.stderr,
            )
            return 1
    try:
        secret, public = createKeyPair(directory, name)
    except OSError as e:
        print(
            f"txmp.keys: cannot write {os.path.join(directory, name)}: {e.strerror or e}",
            file=sys.stderr,
        )
        return 1
    print(f"secret certificate (keep it on this host, for --curve-secret-key): {secret}")
    print(f"public certificate (--curve-allow, --curve-server-key): {public}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
