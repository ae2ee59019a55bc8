"""Shell command lines split into simple commands, so permission rules judge each one alone.

A rule such as ``pytest *`` must never approve ``pytest; rm -rf ~``. The line the model wants
to run (later with ``bash -c``) is read with bash's quoting and operators, and anything whose
structure cannot be seen without running it (substitutions, here-documents, subshells, compound
commands) makes ``parse`` return None, which means: ask the human.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from tools.secret_files import SECRET_DIRS, is_secret_path


@dataclass(frozen=True)
class Redirect:
    """One redirection; ``target`` is after quote removal, ``dynamic`` if it expands at run time."""

    op: str  # as written without the descriptor number: ">", ">>", "<", ">&", "<<<", ...
    fd: int | None  # the number written before the operator, as 2 in "2>"
    target: str
    dynamic: bool

    @property
    def writes(self) -> bool:
        """Whether a file is opened for writing; ``2>&1`` and ``>&-`` only touch descriptors."""
        if self.op == ">&":
            return self.dynamic or not _FD_TARGET.fullmatch(self.target)
        return self.op in (">", ">>", ">|", "&>", "&>>", "<>")


@dataclass(frozen=True)
class SimpleCommand:
    """One command of a line; ``dynamic_args`` when an argument has ``$VAR`` or ``~`` in it."""

    argv: tuple[str, ...]
    assignments: tuple[str, ...] = ()
    redirects: tuple[Redirect, ...] = ()
    dynamic_args: bool = False


class _Unparseable(Exception):
    """Something the parser does not model; the human decides instead."""


_FD_TARGET = re.compile(r"[0-9]+-?|-")
_DIGITS = re.compile(r"[0-9]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_NAMED_FD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_SPECIAL_PARAMETERS = "0123456789@*#?$!-"

_REDIRECTS = ("<<<", "&>>", ">>", ">|", ">&", "<&", "<>", "&>", ">", "<")
_SEPARATORS = ("&&", "||", "|&", ";", "|", "&")
_BINARY = ("&&", "||", "|", "|&")
# Here-documents, process substitution, subshells and case terminators.
_UNSUPPORTED = ("<<", "<(", ">(", "(", ")", ";;", ";&")
_OPERATORS = sorted(_REDIRECTS + _SEPARATORS + _UNSUPPORTED, key=len, reverse=True)
_OPERATOR_CHARS = frozenset("<>&|;()")

_KEYWORDS = frozenset((
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "function", "select", "coproc", "time", "!", "[[", "]]", "{", "}",
))  # fmt: skip


@dataclass
class _Word:
    """One word after quote removal, remembering which characters were quoted."""

    text: str = ""
    quoted: list[bool] = field(default_factory=list)
    expands: bool = False

    def add(self, text: str, quoted: bool) -> None:
        self.text += text
        self.quoted += [quoted] * len(text)

    def unquoted(self, index: int) -> bool:
        return not self.quoted[index]

    def _unquoted_only(self) -> str:
        """The text with quoted characters blanked out, to look for shell syntax."""
        return "".join(c if self.unquoted(i) else " " for i, c in enumerate(self.text))

    @property
    def literal(self) -> bool:
        return not self.expands and not any(self.quoted)

    @property
    def has_glob(self) -> bool:
        """Unquoted ``*``, ``?`` or ``[...]``; a lone ``[`` (the test command) is literal."""
        plain = self._unquoted_only()
        closing = plain.rfind("]")
        return "*" in plain or "?" in plain or (closing > 0 and "[" in plain[:closing])

    @property
    def is_assignment(self) -> bool:
        match = _ASSIGNMENT.match(self.text)
        return match is not None and not any(self.quoted[: match.end()])

    def finish(self) -> _Word:
        """Note the expansions only visible in the whole word: tilde and braces."""
        text, unquoted = self.text, self.unquoted
        tilde = any(
            char == "~" and unquoted(i) and (i == 0 or (text[i - 1] in "=:" and unquoted(i - 1)))
            for i, char in enumerate(text)
        )
        self.expands = self.expands or tilde or self._has_brace_expansion()
        return self

    def _has_brace_expansion(self) -> bool:
        """``{a,b}`` or ``{1..3}``; over-approximated, which only makes words dynamic."""
        plain = self._unquoted_only()
        start, end = plain.find("{"), plain.rfind("}")
        return 0 <= start < end and ("," in plain[start:end] or ".." in plain[start:end])


@dataclass(frozen=True)
class _Operator:
    text: str
    fd: int | None = None


_Token = _Word | _Operator


class _Lexer:
    """Turns a command line into words and operators, following bash's quoting rules."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.pos = 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        line = self.line
        while self.pos < len(line):
            char = line[self.pos]
            if char in " \t":
                self.pos += 1
            elif line.startswith("\\\n", self.pos):
                self.pos += 2
            elif char == "\n":
                self.tokens.append(_Operator("\n"))
                self.pos += 1
            elif char == "#":
                end = line.find("\n", self.pos)
                self.pos = len(line) if end < 0 else end
            elif char in _OPERATOR_CHARS:
                self.tokens.append(self._operator(None))
            else:
                self._word()
        return self.tokens

    def _operator(self, fd: int | None) -> _Operator:
        op = next(op for op in _OPERATORS if self.line.startswith(op, self.pos))
        if op in _UNSUPPORTED:
            raise _Unparseable(op)
        self.pos += len(op)
        return _Operator(op, fd)

    def _word(self) -> None:
        word = _Word()
        line = self.line
        while self.pos < len(line):
            char = line[self.pos]
            if char in " \t\n" or char in _OPERATOR_CHARS:
                break
            if char == "\\":
                escaped = line[self.pos + 1 : self.pos + 2]
                if escaped != "\n":
                    word.add(escaped or "\\", quoted=True)
                self.pos += 2
            elif char == "'":
                end = line.find("'", self.pos + 1)
                if end < 0:
                    raise _Unparseable("unterminated single quote")
                word.add(line[self.pos + 1 : end], quoted=True)
                self.pos = end + 1
            elif char == '"':
                self._double_quoted(word)
            elif char == "`":
                raise _Unparseable("command substitution")
            elif char == "$":
                self._dollar(word, in_quotes=False)
            else:
                word.add(char, quoted=False)
                self.pos += 1
        word.finish()
        next_char = line[self.pos : self.pos + 1]
        if next_char in ("<", ">"):
            if _DIGITS.fullmatch(word.text) and word.literal:
                self.tokens.append(self._operator(int(word.text)))
                return
            if _NAMED_FD.fullmatch(word.text) and word.literal:
                raise _Unparseable("redirection to a named descriptor")
        self.tokens.append(word)

    def _double_quoted(self, word: _Word) -> None:
        line = self.line
        self.pos += 1
        while True:
            if self.pos >= len(line):
                raise _Unparseable("unterminated double quote")
            char = line[self.pos]
            if char == '"':
                self.pos += 1
                return
            escaped = line[self.pos + 1 : self.pos + 2]
            if char == "\\" and escaped and escaped in '$`"\\\n':
                if escaped != "\n":
                    word.add(escaped, quoted=True)
                self.pos += 2
            elif char == "`":
                raise _Unparseable("command substitution")
            elif char == "$":
                self._dollar(word, in_quotes=True)
            else:
                word.add(char, quoted=True)
                self.pos += 1

    def _dollar(self, word: _Word, in_quotes: bool) -> None:
        """A ``$``: a parameter expansion (kept as written), or a literal dollar sign."""
        line, start = self.line, self.pos
        after = line[start + 1 : start + 2]
        if after in ("(", "["):
            raise _Unparseable("command substitution or arithmetic")
        if after in ("'", '"') and not in_quotes:
            raise _Unparseable("$'...' or $\"...\" quoting")
        if after == "{":
            end = line.find("}", start + 2)
            body = line[start + 2 : end]
            if end < 0 or not body or any(char in "$`'\"\\(){\n" for char in body):
                raise _Unparseable("parameter expansion")
            self.pos = end + 1
        elif name := _NAME.match(line, start + 1):
            self.pos = name.end()
        elif after and after in _SPECIAL_PARAMETERS:
            self.pos = start + 2
        else:
            word.add("$", quoted=in_quotes)
            self.pos += 1
            return
        word.add(line[start : self.pos], quoted=True)
        word.expands = True


def parse(command: str) -> list[SimpleCommand] | None:
    """The simple commands in ``command``, or None when its structure cannot be seen."""
    try:
        return _split(_Lexer(command).run())
    except _Unparseable:
        return None


def _split(tokens: list[_Token]) -> list[SimpleCommand]:
    commands: list[SimpleCommand] = []
    words: list[_Word] = []
    redirects: list[Redirect] = []
    waiting = False  # a binary operator still needs its right-hand command
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if isinstance(token, _Word):
            words.append(token)
        elif token.text in _REDIRECTS:
            target = tokens[index] if index < len(tokens) else None
            if not isinstance(target, _Word):
                raise _Unparseable("redirection without a target")
            index += 1
            dynamic = target.expands or target.has_glob
            redirects.append(Redirect(token.text, token.fd, target.text, dynamic))
        elif words or redirects:
            commands.append(_simple_command(words, redirects))
            words, redirects = [], []
            waiting = token.text in _BINARY
        elif token.text != "\n":
            raise _Unparseable(f"{token.text} without a command before it")
    if words or redirects:
        commands.append(_simple_command(words, redirects))
    elif waiting:
        raise _Unparseable("operator without a command after it")
    return commands


def _simple_command(words: list[_Word], redirects: list[Redirect]) -> SimpleCommand:
    count = 0
    while count < len(words) and words[count].is_assignment:
        count += 1
    assignments, argv = words[:count], words[count:]
    if argv:
        name = argv[0]
        if name.text in _KEYWORDS:
            raise _Unparseable(f"shell keyword {name.text}")
        if name.expands or name.has_glob:
            raise _Unparseable("expansion in the command name")
    return SimpleCommand(
        argv=tuple(word.text for word in argv),
        assignments=tuple(word.text for word in assignments),
        redirects=tuple(redirects),
        dynamic_args=any(word.expands for word in argv[1:]),
    )


def matches(pattern: str, command: SimpleCommand) -> bool:
    """Whether a rule such as ``pytest *`` covers ``command`` (redirections are not judged).

    Each pattern token is a glob for the word in the same place; a final ``*`` token stands for
    any number of further words. Words that expand at run time are only covered by that ``*``.
    """
    try:
        tokens = shlex.split(pattern)
    except ValueError:
        return False
    words = command.assignments + command.argv
    if not command.argv or not tokens:
        return False
    open_ended = tokens[-1] == "*"
    fixed = tokens[:-1] if open_ended else tokens
    if len(words) < len(fixed) or (not open_ended and len(words) != len(fixed)):
        return False
    return all(
        fnmatchcase(word, token) and not (command.dynamic_args and _may_expand(word))
        for word, token in zip(words, fixed, strict=False)
    )


def _may_expand(word: str) -> bool:
    """Could this word have been ``$VAR``, ``~`` or ``{a,b}`` on the command line?"""
    return "$" in word or "~" in word or ("{" in word and "}" in word)


# Commands that only read whatever their arguments are.
_READ_ONLY = frozenset((
    "ls", "cat", "head", "tail", "wc", "pwd", "echo", "printf", "which", "type", "stat", "du",
    "df", "realpath", "dirname", "basename", "diff", "cmp", "grep", "egrep", "fgrep", "uname",
    "whoami", "id", "printenv",
))  # fmt: skip
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


def read_only(command: SimpleCommand) -> bool:
    """Whether ``command`` can only read, so it may run without asking; unsure means False."""
    if not command.argv or command.assignments or command.dynamic_args:
        return False
    for redirect in command.redirects:
        if redirect.writes or redirect.dynamic or is_secret_path(redirect.target):
            return False
    name, args = command.argv[0], command.argv[1:]
    if any(_may_name_secret(arg) for arg in args):
        return False
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
    """Read-only subcommands, with no global options (``-c`` could set a pager to run)."""
    if args[:1] == ("--no-pager",):
        args = args[1:]
    if not args:
        return False
    subcommand, rest = args[0], args[1:]
    if subcommand == "branch":
        return all(arg in _GIT_BRANCH_LISTING for arg in rest)
    shorts = "O" if subcommand == "grep" else ""  # grep -O<program> opens files in it
    writers = ("output", "ext-diff", "open-files-in-pager")
    return subcommand in _GIT_READERS and not _has_option(rest, shorts, writers)


_ARGUMENT_CHECKS: dict[str, Callable[[tuple[str, ...]], bool]] = {
    "sort": lambda args: not _has_option(args, "o", ("output", "compress-program")),
    "uniq": _uniq_reads,
    "rg": lambda args: not any(arg.startswith(("--pre", "--hostname-bin")) for arg in args),
    "find": lambda args: not _FIND_ACTIONS.intersection(args),
    "tree": lambda args: not _has_option(args, "oR", ("output",)),
    "file": lambda args: not _has_option(args, "C", ("compile",)),
    "date": lambda args: not _has_option(args, "s", ("set",)),
    "git": _git_reads,
    "python": lambda args: args == ("--version",),
    "python3": lambda args: args == ("--version",),
    "node": lambda args: args == ("--version",),
}

# One name per rule above, to see whether a glob could expand to a secret.
_SECRET_EXAMPLES = (
    ".env", ".env.local", "server.pem", "server.key", "cert.p12", "cert.pfx", "id_rsa",
    "id_ed25519", "id_ecdsa", "id_dsa", ".netrc", ".pypirc", ".npmrc", ".git-credentials",
    "environ",
)  # fmt: skip


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


_SUBCOMMAND_TOOLS = frozenset((
    "git", "npm", "pnpm", "yarn", "bun", "cargo", "go", "uv", "poetry", "pip", "make", "docker",
    "kubectl", "just", "gradle", "mvn", "dotnet",
))  # fmt: skip


def suggest_pattern(command: SimpleCommand) -> str:
    """The rule an "allow always" answer saves: the command name (and subcommand) then ``*``."""
    argv = command.argv
    if not argv:
        return ""
    words = [*command.assignments, argv[0]]
    if argv[0] in _SUBCOMMAND_TOOLS and len(argv) > 1 and not argv[1].startswith("-"):
        words.append(argv[1])
    elif argv[0] in ("python", "python3") and len(argv) > 2 and argv[1] == "-m":
        words += argv[1:3]
    return " ".join(_pattern_token(word) for word in words) + " *"


def _pattern_token(word: str) -> str:
    """``word`` as a pattern token matching only itself: glob characters bracketed, quoted."""
    return shlex.quote(re.sub(r"([*?\[])", r"[\1]", word))
