# -*- test-case-name: txmp.test.test_docs,txmp.test.test_testcasename -*-
"""
txmp's source tree, for the tests that read its documents.

This is not a test module: it holds no test, and test modules import it
(as they may not import each other).
"""

from __future__ import annotations

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

import txmp

ROOT = FilePath(txmp.__file__).parent().parent()


def sourceTree(test: SynchronousTestCase) -> FilePath[str]:
    """
    The root of txmp's source tree, or skip C{test} if it is not there.
    """
    if not ROOT.child("pyproject.toml").exists() or not ROOT.child("docs").isdir():
        test.skipTest("txmp is not run from its source tree")
    return ROOT
