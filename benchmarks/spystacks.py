"""
Where a py-spy profile's samples are: each function's share of the samples
whose stacks hold it (inclusive), and of those that end in it (its own),
from a profile recorded with C{-f raw} (collapsed stacks, a count each).

    py-spy record -d 10 -r 200 -f raw -o front.raw --pid FRONT_PID
    python benchmarks/spystacks.py front.raw [--top N]

A function is named by its name and file; a stack counts once for each
function in it, however often it recurs there.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_FRAME = re.compile(r"(.*) \((.*?)(?::\d+)?\)$")


def _name(frame: str) -> str:
    found = _FRAME.match(frame)
    if found is None:
        return frame
    return f"{found.group(1)} ({found.group(2).rsplit('/', 1)[-1]})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    with open(args.profile) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            samples = int(count)
            total += samples
            names = [_name(frame) for frame in stack.split(";")]
            for name in set(names):
                inclusive[name] += samples
            own[names[-1]] += samples
    print(f"{total} samples")
    for title, counts in (("inclusive", inclusive), ("own", own)):
        print(f"== {title}")
        for name, samples in counts.most_common(args.top):
            print(f"{100 * samples / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
