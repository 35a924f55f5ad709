# -*- test-case-name: txmp.test.test_tap -*-
"""
What the options of C{twistd mpfront} and C{twistd mphandler} share.
"""

from __future__ import annotations

import platform
from typing import Any, Callable, NoReturn, Optional, Sequence

import twisted
from twisted.python import usage

import txmp


def _number(
    kind: Callable[[str], Any], what: str, zeroAllowed: bool,
    most: Optional[int] = None,
) -> Callable[[str], Any]:
    def check(value: str) -> Any:
        try:
            result = kind(value)
        except ValueError:
            raise usage.UsageError(f"{what} must be a number, not {value!r}") from None
        # "not >" also refuses nan; neither nan nor inf is a duration or size.
        inRange = result >= 0 if zeroAllowed else result > 0
        if not inRange or result == float("inf"):
            raise usage.UsageError(
                f"{what} must be {'0 or more' if zeroAllowed else 'positive'} "
                "and finite"
            )
        if most is not None and result > most:
            raise usage.UsageError(f"{what} must be at most {most}")
        return result

    return check


def positive(
    kind: Callable[[str], Any], what: str, most: Optional[int] = None
) -> Callable[[str], Any]:
    """
    A coerce function for C{optParameters}: a positive number of C{kind},
    and at most C{most} if given.
    """
    return _number(kind, what, zeroAllowed=False, most=most)


def nonNegative(kind: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    """
    A coerce function for C{optParameters}: a number of C{kind}, 0 or more.
    """
    return _number(kind, what, zeroAllowed=True)


class TxmpOptions(usage.Options):
    """
    Options whose usage errors, under C{twistd}, are one line and a non-zero
    exit, whatever the Twisted version: service managers must see a bad
    command line fail, and the operator the error, not the usage text
    first.
    """

    parent: Optional[usage.Options]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        flags = {flag[0] for flag in getattr(self, "optFlags", [])}
        for name, doc in self.docs.items():
            # Docstrings of opt_ methods are indented: one space between words.
            doc = " ".join((doc or "").split())
            if name in flags and "default" not in doc:
                doc += " [default: off]"
            elif name in self.defaults and self.defaults[name] is None and "default" not in doc:
                doc += " [default: none]"
            self.docs[name] = doc
        longdesc = getattr(self, "longdesc", None)
        if longdesc:
            self.longdesc = " ".join(longdesc.split())

    def opt_version(self) -> NoReturn:
        """
        Show the versions of txmp, Twisted and Python, and exit.
        """
        print(
            f"txmp {txmp.__version__} (Twisted {twisted.__version__}, "
            f"{platform.python_implementation()} {platform.python_version()})"
        )
        raise SystemExit(0)

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        try:
            usage.Options.parseOptions(self, options)
        except usage.UsageError as e:
            # A parent is set only when twistd parses us as its subcommand.
            parent = getattr(self, "parent", None)
            if parent is not None:
                raise SystemExit(
                    f"twistd {parent.subCommand}: {e} "
                    f"(see twistd {parent.subCommand} --help)"
                ) from None
            raise
