# -*- test-case-name: txmp.test.test_zap -*-
"""
C{python -m txmp.keys DIRECTORY NAME}: make a CURVE key pair for a front or
a handler.

Writes C{DIRECTORY/NAME.key} (the public and the secret key, mode 0600:
give it to C{--curve-secret-key} of the process it belongs to, and to no
one else) and C{DIRECTORY/NAME.key_public} (the public key only: copy a
handler's into the front's C{--curve-allow} directory, the front's to
every handler's C{--curve-server-key}).  These are pyzmq's certificate
files (C{zmq.auth.create_certificates}), so pyzmq's and czmq's tools read
them too.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

USAGE = "usage: python -m txmp.keys DIRECTORY NAME"


def main(argv: Optional[List[str]] = None) -> int:
    """
    Run the command; return its exit status.
    """
    from txmp._zmq import createKeyPair, curveAvailable

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    directory, name = args
    if not name or os.sep in name or name.startswith("."):
        print(f"txmp.keys: {name!r} is not a file name", file=sys.stderr)
        return 2
    if not curveAvailable():
        print("txmp.keys: this libzmq has no CURVE support", file=sys.stderr)
        return 1
    for suffix in (".key", ".key_public"):
        if os.path.exists(os.path.join(directory, name + suffix)):
            print(
                f"txmp.keys: {os.path.join(directory, name + suffix)} exists; "
                "not overwriting a key",
                file=sys.stderr,
            )
            return 1
    os.makedirs(directory, exist_ok=True)
    secret, public = createKeyPair(directory, name)
    print(f"secret key (keep private): {secret}")
    print(f"public key: {public}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
