"""The built-in read-only commands that auto-edit mode runs without asking.

Each command here was checked for options that write or execute: those options make it ask.
Unquoted globs in its arguments ask too unless every option of the command is inert, since
a file named ``-delete`` or ``--output=x`` turns ``find . *`` or ``git diff *`` into
something else. Arguments that could reach a secret file ask whatever the command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fnmatch import fnmatchcase

from agent.policy.bash_syntax import SimpleCommand
from agent.policy.command_readings import opaque
from tools.secret_files import SECRET_DIRS, SECRET_NAMES, is_secret_path

# Commands that only read whatever their arguments are: a glob may expand into any option.
_INERT = frozenset((
    "ls", "cat", "head", "tail", "wc", "pwd", "echo", "which", "type", "stat", "du", "df",
    "realpath", "dirname", "basename", "diff", "cmp", "grep", "egrep", "fgrep", "uname",
    "whoami", "id", "printenv", "cd",
))  # fmt: skip
# printf is inert except -v, which opaque() refuses; a glob could expand into -v.
_READ_ONLY = _INERT | {"printf"}
_FIND_ACTIONS = frozenset((
    "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls",
))  # fmt: skip
_GIT_READERS = frozenset((
    "status", "diff", "log", "show", "blame", "rev-parse", "ls-files", "grep", "describe",
    "shortlog",
))  # fmt: skip
_GIT_BRANCH_LISTING = frozenset((
    "-a", "-r", "-v", "-vv", "--list", "--show-current", "--all", "--remotes",
))  # fmt: skip
# Options of git readers that write a file or run a program; git grep can also search files
# outside the index (untracked ones such as .env).
_GIT_WRITERS = ("output", "ext-diff")
_GIT_GREP_WRITERS = (*_GIT_WRITERS, "open-files-in-pager", "no-index", "untracked")


def read_only(command: SimpleCommand) -> bool:
    """Whether ``command`` can only read, so it may run without asking; unsure means False."""
    if not command.argv or command.assignments or command.dynamic_args or opaque(command):
        return False
    for redirect in command.redirects:
        discarded = redirect.target == "/dev/null" and not redirect.dynamic
        if (redirect.writes and not discarded) or redirect.dynamic:
            return False
        if is_secret_path(redirect.target):
            return False
    name, args = command.argv[0], command.argv[1:]
    if any(_may_name_secret(arg) for arg in args):
        return False
    if name not in _INERT and any(command.glob_arg(index) for index in range(1, len(args) + 1)):
        return False
    if name == "git" and command.after_cd:
        return False  # another folder may be another repository, whose config runs programs
    check = _ARGUMENT_CHECKS.get(name)
    if check is not None:
        return check(args)
    return name in _READ_ONLY


def _has_option(args: tuple[str, ...], shorts: str, longs: tuple[str, ...]) -> bool:
    """Whether any of the options is given, counting short clusters and long abbreviations."""
    for arg in args:
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if name and any(name.startswith(long) or long.startswith(name) for long in longs):
                return True
        elif arg.startswith("-") and any(char in shorts for char in arg[1:]):
            return True
    return False


def _uniq_reads(args: tuple[str, ...]) -> bool:
    """``uniq IN OUT`` writes OUT, so at most one file operand is allowed."""
    operands, skip, options_done = 0, False, False
    for arg in args:
        if skip:
            skip = False
        elif options_done or arg == "-" or not arg.startswith("-"):
            operands += 1
        elif arg == "--":
            options_done = True
        elif arg in ("-f", "-s", "-w"):
            skip = True
    return operands <= 1


def _git_reads(args: tuple[str, ...]) -> bool:
    """Read-only subcommands, with no global option but ``--no-pager``: ``-c`` could set a
    program to run, ``-C`` or ``--git-dir`` could pick a repository whose config does."""
    if args[:1] == ("--no-pager",):
        args = args[1:]
    if not args:
        return False
    subcommand, rest = args[0], args[1:]
    if subcommand == "branch":
        return all(arg in _GIT_BRANCH_LISTING for arg in rest)
    if subcommand == "grep":  # -O<program> opens the files found in it
        return not _has_option(rest, "O", _GIT_GREP_WRITERS)
    return subcommand in _GIT_READERS and not _has_option(rest, "", _GIT_WRITERS)


def _version_only(args: tuple[str, ...]) -> bool:
    return args == ("--version",)


_ARGUMENT_CHECKS: dict[str, Callable[[tuple[str, ...]], bool]] = {
    "sort": lambda args: not _has_option(args, "o", ("output", "compress-program")),
    "uniq": _uniq_reads,
    # --pre and --hostname-bin name a program to run; -z runs decompressors found on PATH.
    "rg": lambda args: not _has_option(args, "z", ("pre", "hostname-bin", "search-zip")),
    "find": lambda args: not _FIND_ACTIONS.intersection(args),
    "tree": lambda args: not _has_option(args, "oR", ("output",)),
    # -C compiles a magic file (writes); -z and -Z may run decompressors.
    "file": lambda args: not _has_option(args, "CzZ", ("compile", "uncompress")),
    "date": lambda args: not _has_option(args, "s", ("set",)),
    "git": _git_reads,
    "python": _version_only,
    "python3": _version_only,
    "node": _version_only,
}

# One name per secret-file rule, to see whether a glob could expand to a secret.
_SECRET_EXAMPLES = (".env", ".env.local", *(name.replace("*", "x") for name in SECRET_NAMES))


def _may_name_secret(arg: str) -> bool:
    """Whether an argument could reach a secret: outright, after ``=`` or ``:``, or by a glob."""
    return any(
        is_secret_path(piece) or _glob_may_match_secret(piece)
        for piece in (arg, *re.split("[=:]", arg))
    )


def _glob_may_match_secret(path: str) -> bool:
    """Whether a glob such as ``/root/.ss?/*`` could expand to a secret path."""
    if not any(char in path for char in "*?["):
        return False
    parts = path.lower().split("/")
    in_secret_dir = any(_glob_matches(folder, part) for part in parts for folder in SECRET_DIRS)
    return in_secret_dir or any(_glob_matches(name, parts[-1]) for name in _SECRET_EXAMPLES)


def _glob_matches(name: str, pattern: str) -> bool:
    """Bash's globbing, where a leading dot must be matched by a dot."""
    return fnmatchcase(name, pattern) and (not name.startswith(".") or pattern.startswith("."))
