"""Start an MCP server so that it dies with Shipmate, even when Shipmate is killed.

Run as a script (``python -I launcher.py PARENT_PID COMMAND ARGS…``): it asks the kernel
to kill it when its parent dies (``PR_SET_PDEATHSIG``), then becomes the server (``exec``),
which keeps that setting. A Shipmate that exits normally stops its servers itself; this is
for SIGKILL, a crash, or a terminal closed under it. Imports nothing of Shipmate's.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent, command = int(sys.argv[1]), sys.argv[2:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the setting took hold
        sys.exit(1)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"cannot run {command[0]}: {error.strerror}", file=sys.stderr)
        sys.exit(127)


if __name__ == "__main__":
    main()
