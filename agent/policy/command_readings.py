"""The semantic layer of the command policy: what a parsed simple command may really run.

Two questions, both answered with "unsure means the worst":

- Is a command *opaque*? It evaluates text as code (``eval``, ``trap``, ``printf -v``, a
  shell or interpreter given code inline or on its input), or changes how later commands
  are found (``alias``, ``hash``, ``enable``), so what runs cannot be seen from the line.
  An opaque command is never allowed by a rule, and it hides what runs from deny rules.
- What are its *readings*? Every plausible command it runs, seen through full paths,
  assignments, wrappers (``env``, ``nice``, ``timeout``, ``xargs`` …), global options
  (``git -C . push``), ``find -exec``, ``find -delete`` and ``sh -c "…"``. Deny rules match
  each reading; over-matching a deny rule is acceptable, missing one is the bug.

A word only known at run time (``$X``, a glob, ``{}`` of ``find -exec``, what ``xargs``
appends) is None in a reading, and stands for any number of any words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from agent.policy.bash_syntax import SimpleCommand, parse
from agent.policy.patterns import command_pattern

Word = str | None
Match = Literal["yes", "maybe", "no"]

_MAX_DEPTH = 6
_STDIN_FILES = frozenset(("-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"))


@dataclass(frozen=True)
class Reading:
    """One plausible command line run by a simple command; ``opaque`` says why not all of
    what runs is visible (empty when it is); ``guessed`` marks a reading only suspected (an
    unknown program's arguments taken as a command it may run), which can make a deny rule
    ask but never deny."""

    words: tuple[Word, ...]
    opaque: str = ""
    guessed: bool = False


def opaque(command: SimpleCommand) -> str:
    """Why what ``command`` runs cannot be seen from the line, or "" when it can."""
    return next((reading.opaque for reading in readings(command) if reading.opaque), "")


def readings(command: SimpleCommand, depth: int = 0) -> list[Reading]:
    """Every plausible reading of ``command``, opaque ones included."""
    offset = len(command.assignments)
    words = tuple(
        None if command.runtime_word(offset + index) else word
        for index, word in enumerate(command.argv)
    )
    found = [
        Reading(words, reason)
        for assignment in command.assignments
        if (reason := _assignment_reason(assignment))
    ]
    if words:
        found += _read(words, depth)
    if command.assignments and words:
        assigned = tuple(
            None if command.runtime_word(index) else word
            for index, word in enumerate(command.assignments)
        )
        found.append(Reading(assigned + words))
    return found


def deny_match(pattern: str, reading: Reading) -> Match:
    """Whether a deny rule such as ``git push *`` matches ``reading`` for sure, maybe (through
    a word only known at run time), or not at all. A pattern ending in ``*`` covers any
    further words, as for allow rules (``git push*`` denies ``git push origin main``)."""
    parsed = command_pattern(pattern)
    if parsed is None or not reading.words:
        return "no"
    fixed = list(parsed.words)
    open_ended = parsed.open_ended
    if fixed and not any(char in fixed[0] for char in "*?["):
        fixed[0] = fixed[0].rsplit("/", 1)[-1]
    words = reading.words
    head = words[: len(fixed)]
    if (
        len(head) == len(fixed)
        and all(
            word is not None and fnmatchcase(word, token)
            for word, token in zip(head, fixed, strict=True)
        )
        and (open_ended or (len(words) == len(fixed)))
    ):
        return "maybe" if reading.guessed else "yes"
    return "maybe" if _could_match(fixed, open_ended, words) else "no"


def runs_anything(words: tuple[str, ...]) -> str:
    """Why a command that starts with ``words`` can run any program or code through further
    arguments of the model's choosing ("" when it is not known to): what makes an allow rule
    such as ``git *`` or ``env *`` nearly as wide as ``*``."""
    name = words[0].rsplit("/", 1)[-1] if words else ""
    if len(words) == 2 and name in _RUNNERS and words[1] == _RUNNERS[name][0]:
        return f"{name} {words[1]} runs any command it is given"
    if len(words) == 2 and _is_interpreter(name) and words[1] in ("-m", "-c"):
        what = "module" if words[1] == "-m" else "code"
        return f"{name} {words[1]} runs any {what} it is given"
    if len(words) != 1:
        return ""
    if name in SHELLS or _is_interpreter(name):
        return f"{name} runs the code of any script it is given"
    if name in WRAPPERS:
        return f"{name} runs any command it is given"
    if name == "find":
        return "find runs any command with -exec"
    if name == "git":
        return (
            "git runs any command through git bisect run and git rebase --exec, and the hooks "
            "and programs a repository's configuration names"
        )
    if name in _RUNNERS:
        return f"{name} {_RUNNERS[name][0]} runs any command it is given"
    return ""


def _could_match(fixed: Sequence[str], open_ended: bool, words: Sequence[Word]) -> bool:
    """Whether some value of the unknown words makes the pattern match: the pattern tokens
    reached after each word, where an unknown word may cover any number of tokens."""
    reached = {0}
    for word in words:
        after: set[int] = set()
        for token in reached:
            if word is None:
                after.update(range(token, len(fixed) + 1))
            elif token < len(fixed):
                if fnmatchcase(word, fixed[token]):
                    after.add(token + 1)
            elif open_ended:
                after.add(token)
        if not after:
            return False
        reached = after
    return len(fixed) in reached


def _read(words: tuple[Word, ...], depth: int) -> list[Reading]:
    """The readings of one command line given as words."""
    if depth > _MAX_DEPTH:
        return [Reading(words, "nests commands too deeply to follow")]
    if words[0] is None:
        return [Reading(words, "runs a command whose name is only known at run time")]
    name = words[0].rsplit("/", 1)[-1] or words[0]
    words = (name, *words[1:])
    args = words[1:]
    found = [Reading(words)]
    if reason := _builtin_reason(name, args):
        found.append(Reading(words, reason))
    if name in SHELLS:
        found += _shell(words, depth)
    elif _is_interpreter(name):
        if reason := _interpreter_reason(name, args):
            found.append(Reading(words, reason))
    elif name in WRAPPERS:
        found += _wrapped(name, WRAPPERS[name], args, depth)
    elif name == "find":
        found += _find(args, depth)
    elif name == "git":
        found += _git(args, depth)
    elif name.startswith("git-") and name[4:] in GIT_COMMANDS:  # /usr/lib/git-core/git-push
        found += _read(("git", name[4:], *args), depth + 1)
    elif name in _RUNNERS:
        found += _runner(name, args, depth)
    found += [Reading((name, *args[start:])) for start in _starts(args, _ANY_OPTIONS) if start]
    if name not in PLAIN and name != "git":
        found += _guessed(args, depth)
    return found


# Programs known never to run their arguments as commands. Any other program might (tmux,
# pkexec, systemd-run, gdb -ex, sqlite3 .shell, a test runner's plugin …): deny rules then
# also try its arguments as a command, and a match asks.
PLAIN = frozenset((
    "ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "rg", "ag", "echo", "printf",
    "pwd", "cd", "pushd", "popd", "mkdir", "rmdir", "touch", "cp", "mv", "ln", "rm", "chmod",
    "chown", "stat", "du", "df", "file", "basename", "dirname", "realpath", "readlink", "sort",
    "uniq", "cut", "tr", "diff", "cmp", "comm", "paste", "join", "tee", "true", "false",
    "test", "[", "date", "sleep", "which", "type", "whoami", "id", "uname", "hostname",
    "export", "set", "less", "more", "nl", "od", "xxd", "hexdump", "md5sum", "sha256sum",
    "tar", "gzip", "gunzip", "zip", "unzip", "jq", "yq", "tree", "column", "fold", "fmt",
))  # fmt: skip


def _guessed(args: tuple[Word, ...], depth: int) -> list[Reading]:
    """An unknown program's arguments read as commands it may run: every argument as a
    command name, and every argument holding a command line parsed as one."""
    found: list[Reading] = []
    for index, word in enumerate(args):
        if word is None or word.startswith("-"):
            continue
        found.append(Reading(args[index:], guessed=True))
        if depth < _MAX_DEPTH and any(char.isspace() for char in word):
            for command in parse(word) or []:
                for reading in readings(command, depth + 1):
                    found.append(Reading(reading.words, reading.opaque, guessed=True))
    return found


def _shell_line(line: Word, words: tuple[Word, ...], depth: int) -> list[Reading]:
    """What a command line that ``words`` hand to a shell (``sh -c LINE``) runs."""
    if line is None:
        return [Reading(words, "runs a command line only known at run time")]
    commands = parse(line)
    if commands is None:
        return [Reading(words, "runs a command line too complex to check")]
    return [reading for command in commands for reading in readings(command, depth + 1)]


def _joined(words: Sequence[Word]) -> Word:
    """Words joined into a command line, as ``watch`` and ``git submodule foreach`` do."""
    return None if None in words else " ".join(word for word in words if word is not None)


# --- builtins and variables that evaluate text ---------------------------------------------

_EVALUATING = {
    "evaluates text as shell code": ("eval", "source", ".", "trap", "let", "fc", "coproc"),
    "can evaluate an array subscript as code": (
        "read", "mapfile", "readarray", "declare", "typeset", "local", "readonly", "unset",
        "wait", "compgen",
    ),
    "runs command lines built from its arguments and input": ("parallel",),
    "changes how later commands are found or read": (
        "alias", "enable", "hash", "shopt", "bind", "complete", "compopt", "jobs",
    ),
}  # fmt: skip
_EVALUATING_REASONS = {name: reason for reason, names in _EVALUATING.items() for name in names}
# Variables whose value bash or a program runs: assigning OPTIND, RANDOM, SRANDOM or HISTCMD
# evaluates the value as arithmetic (so ``RANDOM='a[$(cmd)]'`` runs cmd); prompts (PS4 with
# set -x), start-up files, exported functions, preloaded libraries, git's configuration and
# helper programs run later.
_EVALUATED_VARIABLES = frozenset((
    "OPTIND", "RANDOM", "SRANDOM", "HISTCMD", "PS0", "PS1", "PS2", "PS3", "PS4",
    "PROMPT_COMMAND", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "LD_PRELOAD", "LD_AUDIT",
    "LD_LIBRARY_PATH",
))  # fmt: skip
_EVALUATED_PREFIXES = ("BASH_FUNC_", "GIT_")


def _builtin_reason(name: str, args: tuple[Word, ...]) -> str:
    if name in _EVALUATING_REASONS:
        return f"{name} {_EVALUATING_REASONS[name]}"
    if name == "printf" and args and (args[0] is None or args[0].startswith("-")):
        return "" if args[0] == "--" else "printf -v can evaluate an array subscript as code"
    if name in ("test", "[") and any(arg is None or arg in ("-v", "-R") for arg in args):
        return f"{name} -v can evaluate an array subscript as code"
    if name == "export":
        return next((r for arg in args if arg and (r := _assignment_reason(arg))), "")
    return ""


def _assignment_reason(word: str) -> str:
    """Why assigning ``word`` (NAME=value) changes what later commands run, or ""."""
    name = word.split("=", 1)[0].removesuffix("+")
    if name in _EVALUATED_VARIABLES or name.startswith(_EVALUATED_PREFIXES):
        return f"sets {name}, which can make later commands run other code"
    return ""


# --- shells and interpreters ---------------------------------------------------------------

SHELLS = frozenset((
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish", "rbash", "posh", "hush",
    "csh", "tcsh",
))  # fmt: skip
_SHELL_VALUES = frozenset(("--rcfile", "--init-file"))


def _shell(words: tuple[Word, ...], depth: int) -> list[Reading]:
    """``sh -c LINE`` runs LINE; a shell without a script reads commands from its input."""
    args = words[1:]
    command_mode = from_input = False
    index = 0
    while index < len(args):
        word = args[index]
        if word is None:
            return [Reading(words, "runs a shell with arguments only known at run time")]
        if word in ("-", "--"):
            index += 1
            break
        if word.startswith("--init-command"):  # fish
            return [Reading(words, "runs shell code given inline")]
        if word.startswith("--command=") or word == "--command":  # fish
            command_mode = True
            if "=" in word:
                return _shell_line(word.split("=", 1)[1], words, depth)
        elif word.startswith("--"):
            index += word in _SHELL_VALUES  # and skip its value
        elif word[:1] in "-+" and len(word) > 1:
            letters = word[1:]
            if word[0] == "-":
                command_mode = command_mode or "c" in letters
                from_input = from_input or "s" in letters or "i" in letters
                if words[0] == "fish" and "C" in letters:
                    return [Reading(words, "runs shell code given inline")]
            index += sum(letter in "oO" for letter in letters)  # their values follow
        else:
            break
        index += 1
    operands = args[index:]
    if command_mode:
        return _shell_line(operands[0], words, depth) if operands else []
    if from_input or not operands or operands[0] is None or operands[0] in _STDIN_FILES:
        return [Reading(words, "runs a shell that reads commands from its input")]
    return []  # a script file: what it runs is not seen (a known limit)


@dataclass(frozen=True)
class _Interpreter:
    """How an interpreter is given code: option letters and long options followed by inline
    code, letters after which the rest of the word (or the next word) is a value, long
    options that take the next word as value, options that name a program another way
    (``python -m``), and options that only print (``--version``)."""

    code: str = ""
    long_code: tuple[str, ...] = ()
    values: str = ""
    long_values: tuple[str, ...] = ()
    program: str = ""
    long_program: tuple[str, ...] = ()
    info: tuple[str, ...] = ("--version", "-v", "-V", "--help", "-h")
    reads_input: bool = True  # with no program it reads code from its input


_INLINE = "runs code given inline or typed on its input"
_FROM_INPUT = "reads code from its input"
_PYTHON = _Interpreter(
    code="ci", values="WXQ", program="m", long_values=("--check-hash-based-pycs",)
)
_NODE = _Interpreter(
    code="epi",
    long_code=("--eval", "--print", "--interactive"),
    values="rC",
    long_values=(
        "--require", "--import", "--loader", "--experimental-loader", "--input-type",
        "--env-file", "--conditions", "--title",
    ),
    long_program=("--test", "--run"),
)  # fmt: skip
_PWSH = _Interpreter(code="cCeE", long_code=("-Command", "-command", "-EncodedCommand"))
_INTERPRETERS = {
    "python": _PYTHON, "python3": _PYTHON, "pypy": _PYTHON, "pypy3": _PYTHON,
    "node": _NODE, "nodejs": _NODE, "ts-node": _NODE, "tsx": _NODE,
    "ipython": _PYTHON, "ipython3": _PYTHON, "expect": _Interpreter(code="c"),
    "bun": _Interpreter(code="ep", long_code=("--eval", "--print"), reads_input=False),
    "perl": _Interpreter(code="eEmM", values="0CdDFiIlx"),
    "ruby": _Interpreter(code="e", values="0CEFIKlrTWx", long_values=("--encoding",)),
    "php": _Interpreter(code="rRBEad", values="cztF", program="f"),
    "lua": _Interpreter(code="ei", values="l"),
    "luajit": _Interpreter(code="ei", values="lbjO"),
    "Rscript": _Interpreter(code="e", long_code=("--expr",), reads_input=False),
    "R": _Interpreter(code="e", long_program=("--file",)),
    "osascript": _Interpreter(code="e", values="ls"),
    "julia": _Interpreter(code="eEi", long_code=("--eval", "--print"), values="JLCtp"),
    "tclsh": _Interpreter(),
    "wish": _Interpreter(),
    "pwsh": _PWSH,
    "powershell": _PWSH,
}  # fmt: skip
_VERSIONED_INTERPRETER = re.compile(r"(python|pypy|perl|ruby|php|lua)[0-9][0-9.]*")
_AWKS = frozenset(("awk", "gawk", "mawk", "nawk"))
_SEDS = frozenset(("sed", "gsed"))


def _is_interpreter(name: str) -> bool:
    return (
        name in _INTERPRETERS
        or name in _AWKS
        or name in _SEDS
        or name == "deno"
        or _VERSIONED_INTERPRETER.fullmatch(name) is not None
    )


def _interpreter_reason(name: str, args: tuple[Word, ...]) -> str:
    """Why an interpreter runs code not on disk (inline, or from its input), or ""."""
    if name in _AWKS:
        return _awk_reason(args)
    if name in _SEDS:
        return _sed_reason(args)
    if name == "deno":
        return _deno_reason(args)
    versioned = _VERSIONED_INTERPRETER.fullmatch(name)
    spec = _INTERPRETERS.get(name) or _INTERPRETERS[versioned.group(1) if versioned else name]
    if len(args) == 1 and args[0] in spec.info:
        return ""
    index = 0
    while index < len(args):
        word = args[index]
        if word is None:
            return "runs code chosen by arguments only known at run time"
        if word in _STDIN_FILES:
            return _FROM_INPUT
        if word == "--":
            following = args[index + 1] if index + 1 < len(args) else ""
            from_input = following is None or following in _STDIN_FILES
            return _FROM_INPUT if from_input or (not following and spec.reads_input) else ""
        option = word.split("=", 1)[0]
        if option in spec.long_code:
            return _INLINE
        if option in spec.long_program or word in spec.info:
            return ""
        if word.startswith("--"):
            index += 2 if option in spec.long_values and "=" not in word else 1
            continue
        if not word.startswith("-") or len(word) == 1:
            return ""  # a program file: what it does is not seen (a known limit)
        for position, letter in enumerate(word[1:], 2):
            if letter in spec.code:
                return _INLINE
            if letter in spec.program:
                return ""
            if letter in spec.values:
                index += position >= len(word)  # the value is the next word
                break
        index += 1
    return _FROM_INPUT if spec.reads_input else ""


def _deno_reason(args: tuple[Word, ...]) -> str:
    subcommands = [arg for arg in args if arg is None or arg == "-" or not arg.startswith("-")]
    if not subcommands:
        return "" if args else _FROM_INPUT
    if subcommands[0] in ("eval", "repl", None):
        return _INLINE
    return _FROM_INPUT if "-" in subcommands[1:2] else ""


_AWK_VALUES = frozenset(("-v", "-F", "--assign", "--field-separator"))
_AWK_FILES = frozenset(("-f", "--file", "-E", "--exec", "-i", "--include", "-l", "--load"))


def _awk_reason(args: tuple[Word, ...]) -> str:
    """awk's program is code: ``system()``, pipes and ``getline`` start commands."""
    programs: list[Word] = []
    from_file = False
    index = 0
    while index < len(args):
        word = args[index]
        if word is None:
            return "runs awk code only known at run time"
        if word in ("-e", "--source"):
            programs.append(args[index + 1] if index + 1 < len(args) else "")
            index += 2
        elif word in _AWK_VALUES or word in _AWK_FILES:
            value = args[index + 1] if index + 1 < len(args) else ""
            if word in _AWK_FILES:
                from_file = True
                programs += [None] if value is None or value in _STDIN_FILES else []
            index += 2
        elif word.startswith("-") and word != "-" and word != "--":
            index += 1
        else:
            if word == "--":
                index += 1
            if not from_file and not programs and index < len(args):
                programs.append(args[index])
            break
    for program in programs:
        if program is None or any(part in program for part in ("system", "|", "getline", "@")):
            return "runs awk code that can start commands"
    return ""


def _sed_reason(args: tuple[Word, ...]) -> str:
    """GNU sed's ``e`` command and ``s///e`` flag run commands; any ``e`` in a script asks."""
    scripts: list[Word] = []
    explicit = False
    index = 0
    while index < len(args):
        word = args[index]
        if word in ("-e", "--expression", "-f", "--file"):
            explicit = True
            value = args[index + 1] if index + 1 < len(args) else ""
            if word in ("-e", "--expression"):
                scripts.append(value)
            elif value is None or value in _STDIN_FILES:
                scripts.append(None)  # a script read from the input
            index += 2
            continue
        if word is not None and word.startswith(("--expression=", "-e")) and word != "-e":
            explicit = True
            scripts.append(word.split("=", 1)[1] if word.startswith("--") else word[2:])
        elif (word is None or not word.startswith("-") or word == "-") and not explicit:
            scripts.append(word)
            explicit = True
        index += 1
    if any(script is None or "e" in script for script in scripts):
        return "runs a sed script that may use its e command"
    return ""


# --- wrappers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wrapper:
    """A command that runs the command in its arguments: its options known to take a value,
    those known to take none, the words between options and command (``timeout`` 's
    duration), options whose value is a shell command line, and whether without a command
    (``sudo -s``) or without a command line (``su``) it starts a shell reading its input."""

    values: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    operands: int = 0
    line_options: frozenset[str] = frozenset()
    shell_unless_command: bool = False
    shell_unless_line: bool = False


def _wrapper(
    values: str = "",
    flags: str = "",
    operands: int = 0,
    lines: str = "",
    shell_unless_command: bool = False,
    shell_unless_line: bool = False,
) -> _Wrapper:
    return _Wrapper(
        frozenset(values.split()), frozenset(flags.split()), operands, frozenset(lines.split()),
        shell_unless_command, shell_unless_line,
    )  # fmt: skip


WRAPPERS: dict[str, _Wrapper] = {
    "env": _wrapper("-u --unset -C --chdir", "-i --ignore-environment -0 --null -v --debug -"),
    "nice": _wrapper("-n --adjustment"),
    "ionice": _wrapper("-c --class -n --classdata -p --pid -P --pgid -u --uid", "-t --ignore"),
    "nohup": _wrapper(),
    "timeout": _wrapper(
        "-s --signal -k --kill-after", "-v --verbose --preserve-status --foreground", 1
    ),
    "sudo": _wrapper(
        "-u --user -g --group -C --close-from -D --chdir -h --host -p --prompt -r --role "
        "-t --type -U --other-user -T --command-timeout",
        "-A -b -E -H -i -k -K -l -n -P -S -s -v",
        shell_unless_command=True,
    ),
    "doas": _wrapper("-u -C", "-n -s -L", shell_unless_command=True),
    "stdbuf": _wrapper("-i -o -e --input --output --error"),
    "setsid": _wrapper("", "-c -f -w --ctty --fork --wait"),
    "chroot": _wrapper("--userspec --groups", "--skip-chdir", 1, shell_unless_command=True),
    "time": _wrapper("-f --format -o --output", "-p -a -v -q --portability --append --verbose"),
    "flock": _wrapper(
        "-w --timeout -E --conflict-exit-code", "-s -x -e -n -u -o -F", 1, "-c --command"
    ),
    "taskset": _wrapper("", "-a --all-tasks -c --cpu-list", 1),
    "chrt": _wrapper("-T -P -D", "-a -b -d -e -f -i -o -r -R -v", 1),
    "unbuffer": _wrapper("", "-p"),
    "strace": _wrapper("-e -o -p -P -s -u -E -a -b -I -S -X -O -U"),
    "ltrace": _wrapper("-e -o -p -s -u -n -a -A -D -F -l -x -w"),
    "command": _wrapper("", "-p"),
    "exec": _wrapper("-a", "-c -l"),
    "builtin": _wrapper(),
    "busybox": _wrapper(),
    "xargs": _wrapper(
        "-a --arg-file -d --delimiter -E -I -L -n --max-args -P --max-procs -s --max-chars "
        "--process-slot-var",
        "-0 --null -o --open-tty -p --interactive -r --no-run-if-empty -t --verbose -x --exit",
    ),
    "unshare": _wrapper(
        "-S --setuid -G --setgid -R --root -w --wd --propagation --setgroups",
        shell_unless_command=True,
    ),
    "nsenter": _wrapper("-t --target -S --setuid -G --setgid -r -w", shell_unless_command=True),
    "prlimit": _wrapper("-p --pid -o --output"),
    "setpriv": _wrapper("--reuid --regid --groups --inh-caps --ambient-caps --bounding-set"),
    "su": _wrapper(
        "-s --shell -g --group -G --supp-group",
        lines="-c --command --session-command",
        shell_unless_line=True,
    ),
    "runuser": _wrapper(
        "-s --shell -g --group -G --supp-group -u --user",
        lines="-c --command",
        shell_unless_line=True,
    ),
    "script": _wrapper(
        "-E --echo -I -O -T --log-in --log-out --log-timing",
        lines="-c --command",
        shell_unless_line=True,
    ),
    "watch": _wrapper("-n --interval -q --equexit", "-b -c -d -e -g -p -t -x --exec -w"),
    "parallel": _wrapper("-j --jobs -S --sshlogin --joblog --results -a --arg-file"),
    "npx": _wrapper("-p --package", lines="-c --call"),
    "pnpx": _wrapper(),
    "bunx": _wrapper(),
}  # fmt: skip
# Tools with a subcommand that runs any command: ``uv run git push``, ``npm exec -- x``.
_RUNNERS: dict[str, tuple[str, _Wrapper]] = {
    **{
        name: ("run", _Wrapper())
        for name in (
            "uv", "poetry", "pipenv", "pdm", "hatch", "rye", "pixi", "conda", "mamba",
            "micromamba",
        )
    },
    **{name: ("exec", _wrapper(lines="-c --call")) for name in ("npm", "pnpm", "yarn")},
    "bundle": ("exec", _Wrapper()),
    "direnv": ("exec", _wrapper(operands=1)),
}  # fmt: skip
# Options of a command about which nothing is known: each may or may not take a value.
_ANY_OPTIONS = _Wrapper()


def _starts(args: tuple[Word, ...], spec: _Wrapper, env: bool = False) -> list[int]:
    """Where the wrapped command may start, after the options (trying both readings of an
    option that may take a value) and the fixed operands."""
    starts: set[int] = set()
    todo = [(0, spec.operands, False)]
    seen: set[tuple[int, int, bool]] = set()
    while todo:
        state = todo.pop()
        if state in seen or state[0] >= len(args):
            continue
        seen.add(state)
        index, operands, done = state
        word = args[index]
        if word is None:
            starts.add(index)
            todo.append((index + 1, operands, done))
            if operands:
                todo.append((index + 1, operands - 1, done))
        elif not done and word == "--":
            todo.append((index + 1, operands, True))
        elif not done and word.startswith("-") and word != "-":
            if word in spec.values:
                todo.append((index + 2, operands, done))
            elif "=" in word or word in spec.flags:
                todo.append((index + 1, operands, done))
            else:
                todo += [(index + 1, operands, done), (index + 2, operands, done)]
        elif env and "=" in word:
            todo.append((index + 1, operands, done))
        elif operands:
            todo.append((index + 1, operands - 1, done))
        else:
            starts.add(index)
    return sorted(starts)


def _runner(name: str, args: tuple[Word, ...], depth: int) -> list[Reading]:
    """``uv run CMD``, ``npm exec -- CMD``: after the subcommand, a wrapper."""
    subcommand, spec = _RUNNERS[name]
    found: list[Reading] = []
    for start in _starts(args, _ANY_OPTIONS):
        if args[start] == subcommand:
            found += _wrapped(name, spec, args[start + 1 :], depth)
    return found


def _wrapped(name: str, spec: _Wrapper, args: tuple[Word, ...], depth: int) -> list[Reading]:
    """What a wrapper such as ``env``, ``nice -n 5`` or ``xargs -I{}`` runs."""
    words = (name, *args)
    found: list[Reading] = []
    starts = _starts(args, spec, env=name == "env")
    if name == "env":  # what comes before the command: options and NAME=value words
        for arg in args[: max(starts, default=len(args))]:
            if arg is not None and "=" in arg and (reason := _assignment_reason(arg)):
                found.append(Reading(words, reason))
            if arg is not None and (arg.startswith("--s") or _short_has(arg, "S")):
                found.append(Reading(words, "env -S splits a string into a command line"))
    lines = _line_values(args, spec.line_options)
    for line in lines:
        found += _shell_line(line, words, depth)
    if lines:
        return found
    if name == "command" and any(arg in ("-v", "-V") for arg in args):
        return found  # only looks the command up
    starting_shell = spec.shell_unless_line or (spec.shell_unless_command and not starts)
    if starting_shell:
        return [*found, Reading(words, f"{name} starts a shell that reads commands from its input")]
    for start in starts:
        inner = args[start:]
        if name == "xargs":
            inner = _xargs_inner(args[:start], inner)
        elif name in ("watch", "parallel") and not {"-x", "--exec"} & set(args[:start]):
            found += _shell_line(_joined(inner), words, depth)
            continue
        found += _read(inner, depth + 1)
    return found


def _line_values(args: tuple[Word, ...], options: frozenset[str]) -> list[Word]:
    """The values of options such as ``su -c LINE``, ``-qcLINE`` or ``--command=LINE``."""
    values: list[Word] = []
    for index, arg in enumerate(args):
        following = args[index + 1] if index + 1 < len(args) else ""
        if arg is None or not arg.startswith("-") or arg == "-":
            continue
        if arg.startswith("--"):
            option, _, value = arg.partition("=")
            if option in options:
                values.append(value if "=" in arg else following)
            continue
        for position, letter in enumerate(arg[1:], 2):
            if f"-{letter}" in options:
                values.append(arg[position:] or following)
                break
    return values


def _short_has(arg: str, letter: str) -> bool:
    return arg.startswith("-") and not arg.startswith("--") and letter in arg


def _xargs_inner(options: tuple[Word, ...], inner: tuple[Word, ...]) -> tuple[Word, ...]:
    """xargs appends words from its input, or puts them where ``-I`` 's string stands."""
    replace: Word = ""
    for index, option in enumerate(options):
        if option is None:
            replace = None
        elif option == "-I":
            replace = options[index + 1] if index + 1 < len(options) else None
        elif option.startswith("-I"):
            replace = option[2:]
        elif option in ("-i", "--replace"):
            replace = "{}"
        elif option.startswith(("-i", "--replace=")):
            replace = option.split("=", 1)[1] if "=" in option else option[2:]
    if replace is None:
        return (inner[0], *[None for _ in inner[1:]], None)
    if replace:
        inner = tuple(None if word is None or replace in word else word for word in inner)
    return (*inner, None)


# --- find and git ---------------------------------------------------------------------------

_FIND_EXECS = frozenset(("-exec", "-execdir", "-ok", "-okdir"))


def _find(args: tuple[Word, ...], depth: int) -> list[Reading]:
    """``find -exec CMD {} ;`` runs CMD on any file name; ``-delete`` is an ``rm``."""
    if None in args:
        return [
            Reading(("find", *args), "find with arguments only known at run time may run anything")
        ]
    found: list[Reading] = []
    index = 0
    while index < len(args):
        word = args[index]
        if word in _FIND_EXECS:
            end = next((i for i in range(index + 1, len(args)) if args[i] in (";", "+")), len(args))
            inner = tuple(
                None if arg is None or "{}" in arg else arg for arg in args[index + 1 : end]
            )
            if inner:
                found += _read(inner, depth + 1)
            index = end
        elif word == "-delete":
            found += _read(("rm", None), depth + 1)
        index += 1
    return found


_GIT_VALUES = frozenset((
    "-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env",
    "--super-prefix", "--attr-source", "--list-cmds",
))  # fmt: skip
_GIT_FLAGS = frozenset((
    "--no-pager", "-p", "--paginate", "-P", "--bare", "--no-replace-objects",
    "--literal-pathspecs", "--glob-pathspecs", "--noglob-pathspecs", "--icase-pathspecs",
    "--no-optional-locks", "--no-lazy-fetch", "--no-advice", "--html-path", "--man-path",
    "--info-path", "--version", "--help", "-h", "-v",
))  # fmt: skip
# Global options that set configuration or where git finds its programs: both run commands.
_GIT_CONFIGURING = ("-c", "--config-env", "--exec-path")
# git's own commands (2.39 and later); anything else may be an alias, which can run anything.
GIT_COMMANDS = frozenset((
    "add", "am", "annotate", "apply", "archive", "backfill", "bisect", "blame", "branch",
    "bugreport", "bundle", "cat-file", "check-attr", "check-ignore", "check-mailmap",
    "check-ref-format", "checkout", "checkout-index", "cherry", "cherry-pick", "clean", "clone",
    "column", "commit", "commit-graph", "commit-tree", "config", "count-objects", "credential",
    "credential-cache", "credential-store", "daemon", "describe", "diagnose", "diff", "diff-files",
    "diff-index", "diff-tree", "difftool", "fast-export", "fast-import", "fetch", "fetch-pack",
    "filter-branch", "fmt-merge-msg", "for-each-ref", "for-each-repo", "format-patch", "fsck",
    "fsck-objects", "gc", "get-tar-commit-id", "grep", "hash-object", "help", "hook",
    "http-backend", "http-fetch", "http-push", "imap-send", "index-pack", "init", "init-db",
    "instaweb", "interpret-trailers", "last-modified", "log", "ls-files", "ls-remote", "ls-tree",
    "mailinfo", "mailsplit", "maintenance", "merge", "merge-base", "merge-file", "merge-index",
    "merge-octopus", "merge-one-file", "merge-ours", "merge-recursive", "merge-resolve",
    "merge-subtree", "merge-tree", "mergetool", "mktag", "mktree", "multi-pack-index", "mv",
    "name-rev", "notes", "pack-objects", "pack-redundant", "pack-refs", "patch-id", "prune",
    "prune-packed", "pull", "push", "quiltimport", "range-diff", "read-tree", "rebase",
    "receive-pack", "reflog", "refs", "remote", "repack", "replace", "replay", "repo",
    "request-pull", "rerere", "reset", "restore", "rev-list", "rev-parse", "revert", "rm",
    "send-pack", "shortlog", "show", "show-branch", "show-index", "show-ref", "sparse-checkout",
    "stage", "stash", "status", "stripspace", "submodule", "subtree", "switch", "symbolic-ref",
    "tag", "unpack-file", "unpack-objects", "update-index", "update-ref", "update-server-info",
    "upload-archive", "upload-pack", "var", "verify-commit", "verify-pack", "verify-tag",
    "version", "whatchanged", "worktree", "write-tree",
))  # fmt: skip
# Options of git commands whose value is a program or command line git runs.
_GIT_PROGRAM_OPTIONS = {
    "clone": ("-u", "--upload-pack"),
    "fetch": ("--upload-pack",),
    "pull": ("--upload-pack",),
    "ls-remote": ("-u", "--upload-pack"),
    "push": ("--receive-pack", "--exec"),
    "archive": ("--exec",),
    "grep": ("-O", "--open-files-in-pager"),
    "difftool": ("-x", "--extcmd", "-t", "--tool"),
    "mergetool": ("-t", "--tool"),
}
_GIT_PUSHING = frozenset(("send-pack", "http-push"))
_GIT_PUSHING_SUBCOMMANDS = {"subtree": "push", "svn": "dcommit", "p4": "submit"}
# git commands whose arguments are shell code.
_GIT_CODE_COMMANDS = frozenset(("filter-branch",))


def _git(args: tuple[Word, ...], depth: int) -> list[Reading]:
    """git after its global options; configuration, aliases and helper programs are opaque."""
    found: list[Reading] = []
    words = ("git", *args)
    index = 0
    while index < len(args):
        word = args[index]
        if word is None or not word.startswith("-"):
            break
        option = word.split("=", 1)[0]
        if option in _GIT_CONFIGURING or word.startswith("-c"):
            found.append(Reading(words, "sets git configuration, which can run commands"))
        if word in _GIT_VALUES:
            index += 2
        elif option in _GIT_VALUES or word in _GIT_FLAGS or word.startswith("-C"):
            index += 1
        else:
            return [*found, Reading(words, f"uses the git option {word}, unknown here")]
    if index >= len(args):
        return found
    subcommand, rest = args[index], args[index + 1 :]
    found.append(Reading(("git", *args[index:])))
    if subcommand in _GIT_PUSHING:  # plumbing that pushes, for rules on git push
        found.append(Reading(("git", "push", *rest)))
    if subcommand in _GIT_PUSHING_SUBCOMMANDS and _GIT_PUSHING_SUBCOMMANDS[subcommand] in rest:
        # git subtree push, git svn dcommit, git p4 submit: pushes by another name
        found.append(Reading(("git", "push", *rest)))
    if subcommand is None:
        return [*found, Reading(words, "runs a git command only known at run time")]
    if subcommand not in GIT_COMMANDS:
        return [*found, Reading(words, f"git {subcommand} may be an alias, which can run anything")]
    options = _GIT_PROGRAM_OPTIONS.get(subcommand, ())
    named = any(arg is None or arg.startswith(options) for arg in rest) if options else False
    if named or subcommand in _GIT_CODE_COMMANDS:
        found.append(Reading(words, f"git {subcommand} can run a program named in its arguments"))
    if subcommand == "submodule" and "foreach" in rest:
        line = rest[rest.index("foreach") + 1 :]
        line = tuple(word for word in line if word not in ("--recursive", "--quiet", "-q"))
        found += _shell_line(_joined(line), words, depth)
    elif subcommand == "rebase":
        found += _git_rebase_exec(rest, words, depth)
    elif subcommand == "bisect" and "run" in rest and rest[rest.index("run") + 1 :]:
        found += _read(rest[rest.index("run") + 1 :], depth + 1)
    return found


def _git_rebase_exec(args: tuple[Word, ...], words: tuple[Word, ...], depth: int) -> list[Reading]:
    """``git rebase --exec CMD`` runs CMD with the shell after each commit."""
    found: list[Reading] = []
    for index, arg in enumerate(args):
        if arg in ("-x", "--exec"):
            found += _shell_line(args[index + 1] if index + 1 < len(args) else "", words, depth)
        elif arg is not None and arg.startswith(("--exec=", "-x")):
            line = arg.split("=", 1)[1] if arg.startswith("--") else arg[2:]
            found += _shell_line(line, words, depth)
    return found
