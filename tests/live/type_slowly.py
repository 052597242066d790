#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and type lines into it one key at a time, with
human-like pauses between keys, as a person at a terminal would. Standard library only.

  type_slowly.py [--seed N] [--line TEXT]... -- COMMAND [ARG...]

Each --line is typed key by key (80-240 ms apart, from a seeded generator so runs repeat),
followed by Enter, with a short pause after each line for the output. Everything the
command prints is copied to standard output. Exit status: the command's.
"""
import os
import pty
import random
import select
import sys
import time


def main():
    args = sys.argv[1:]
    lines, seed = [], 7
    while args and args[0] != "--":
        if args[0] == "--line":
            lines.append(args[1])
            args = args[2:]
        elif args[0] == "--seed":
            seed = int(args[1])
            args = args[2:]
        else:
            sys.exit(f"type_slowly.py: unknown argument {args[0]}")
    cmd = args[1:]
    if not cmd:
        sys.exit("type_slowly.py: no command after --")
    rng = random.Random(seed)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = bytearray()

    def drain(secs):
        end = time.monotonic() + secs
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            out.extend(chunk)

    drain(2.0)  # login, prompt
    for line in lines:
        for ch in line + "\r":
            os.write(fd, ch.encode())
            if not drain(rng.uniform(0.08, 0.24)):
                break
        drain(0.6)
    drain(1.0)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
