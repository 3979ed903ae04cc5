#!/usr/bin/env python3
"""Writes the benchmark's source files: COUNT files of SIZE random bytes named by PATTERN in DIR.

Random content, different in every file, so that a tool that mixes up or truncates files is caught
by the byte-exact comparison after each run.
"""
import os
import sys

CHUNK = 16 << 20


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit("usage: make_files.py DIR COUNT SIZE PATTERN (e.g. out 1000 65536 f%04d.bin)")
    directory, count, size, pattern = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if "%" not in pattern and count != 1:
        sys.exit(f"make_files.py: pattern {pattern!r} names one file, but {count} were asked for")
    os.makedirs(directory, exist_ok=True)
    for i in range(1, count + 1):
        name = pattern % i if "%" in pattern else pattern
        with open(os.path.join(directory, name), "wb") as f:
            left = size
            while left:
                n = min(left, CHUNK)
                f.write(os.urandom(n))
                left -= n


if __name__ == "__main__":
    main()
