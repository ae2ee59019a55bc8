"""The syntax layer of the command policy: a bash line read with tree-sitter-bash, accepted
only when every part of it is syntax known to be inert.

The policy must never approve what it does not understand, so this reader does not look for
dangerous tricks; it lists what is safe (words, plain quoting, plain ``$NAME``, pipes and
lists of simple commands, file redirections) and gives up on everything else. Two parsers
must agree before a line is accepted: tree-sitter gives the structure, and each word is read
again here with bash's quoting rules, so a word tree-sitter and bash would split differently
is refused instead of misread.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import tree_sitter_bash
from tree_sitter import Language, Node, Parser


@dataclass(frozen=True)
class Redirect:
    """One redirection; ``target`` is after quote removal, ``dynamic`` if it expands at run time."""

    op: str  # as written without the descriptor number: ">", ">>", "<", ">&", "<&", ...
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
    """One command of a line; ``dynamic_args`` when an argument has ``$VAR``, ``~`` or ``{a,b}``.

    ``runtime`` has one flag per word of ``assignments + argv``: the word's final value (or
    number of words) is only known when it runs, because of an expansion or a glob. ``globs``
    flags the argv words with an unquoted ``*``, ``?`` or ``[...]``. Both are empty for a
    command built by hand, which then counts as fully literal. ``after_cd``: a ``cd``,
    ``pushd`` or ``popd`` earlier in the line moved it away from the workspace root.
    """

    argv: tuple[str, ...]
    assignments: tuple[str, ...] = ()
    redirects: tuple[Redirect, ...] = ()
    dynamic_args: bool = False
    runtime: tuple[bool, ...] = field(default=(), compare=False)
    globs: tuple[bool, ...] = field(default=(), compare=False)
    after_cd: bool = field(default=False, compare=False)

    def runtime_word(self, index: int) -> bool:
        """Whether word ``index`` of ``assignments + argv`` is only known at run time."""
        return index < len(self.runtime) and self.runtime[index]

    def runtime_arg(self, index: int) -> bool:
        """Whether ``argv[index]`` is only known at run time."""
        return self.runtime_word(len(self.assignments) + index)

    def glob_arg(self, index: int) -> bool:
        return index < len(self.globs) and self.globs[index]


class Unparseable(Exception):
    """Something the reader does not model; the human decides instead."""


_FD_TARGET = re.compile(r"[0-9]+-?|-")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_BRACED = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])\}")
_SPECIAL_PARAMETERS = "0123456789@*#?$!-"
# A word written right before a redirection that bash would take as its descriptor.
_DESCRIPTOR_WORD = re.compile(r"[0-9]+|\{[^}]*\}")
_WORD_START = re.compile(r"[ \t\n;&|<>()]")
_CONTINUATION = "\\\n"
_METACHARACTERS = frozenset(" \t\n;&|<>()`")
# Inside double quotes bash keeps a $ as it is before these (as in the regex "end$").
_LITERAL_DOLLAR_BEFORE = frozenset(' \t\n"/.,:%=+^~]')

# Reserved words are syntax, not commands; as a command name they mean the line is not what
# tree-sitter read. ``time`` is kept: ``time CMD`` runs CMD, and deny rules look through it.
_RESERVED = frozenset((
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "in", "function", "select", "coproc", "!", "[[", "]]", "{", "}",
))  # fmt: skip
_CD = frozenset(("cd", "pushd", "popd"))

_WORD_TYPES = frozenset((
    "word", "string", "raw_string", "concatenation", "number", "simple_expansion",
    "expansion", "brace_expression",
))  # fmt: skip
# What may appear inside a word node; expansions are checked for their exact shape too.
_INSIDE_WORD = _WORD_TYPES | {"string_content", "variable_name", "special_variable_name"}
_INSIDE_WORD_TOKENS = frozenset(('"', "{", "}", ".."))
_STATEMENTS = frozenset(("command", "list", "pipeline", "negated_command"))
_REDIRECT_OPS = frozenset((">", ">>", "<", ">&", "<&", "&>", "&>>", ">|", ">&-", "<&-"))


_Outer = tuple[tuple[int, Redirect], ...]  # redirections around a statement, with offsets
_Adder = Callable[[str, bool], None]


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bash.language()))


def parse(line: str) -> list[SimpleCommand] | None:
    """The simple commands in ``line``, or None when any of it is not plainly inert syntax."""
    try:
        return _Reader(line).commands()
    except (Unparseable, RecursionError):
        return None


@dataclass
class _Value:
    """One word after quote removal."""

    text: str
    runtime: bool  # an expansion, a tilde or braces: only known when it runs
    glob: bool


@dataclass
class _Command:
    """A simple command while it is being read; redirects keep their byte offset."""

    start: int
    argv: list[_Value] = field(default_factory=list)
    assignments: list[_Value] = field(default_factory=list)
    redirects: list[tuple[int, Redirect]] = field(default_factory=list)


class _Reader:
    """Walks the tree of one line, accepting only the node types it knows to be inert."""

    def __init__(self, line: str) -> None:
        if "\x00" in line:
            raise Unparseable("a NUL byte")
        try:
            self.source = line.encode()
        except UnicodeEncodeError:
            raise Unparseable("not valid text") from None
        self.found: list[_Command] = []

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode()

    def gap(self, start: int, end: int, newlines: bool) -> str:
        """The text between two nodes, which must be blanks; bash removes continuations first."""
        gap = self.source[start:end].decode().replace(_CONTINUATION, "")
        allowed = " \t\n" if newlines else " \t"
        if any(char not in allowed for char in gap):
            raise Unparseable(f"unexpected text {gap!r} between parts")
        return gap

    def commands(self) -> list[SimpleCommand]:
        root = _parser().parse(self.source).root_node
        if root.has_error or root.type != "program":
            raise Unparseable("a syntax error")
        self.gap(0, root.start_byte, True)
        self.gap(root.end_byte, len(self.source), True)
        self.sequence(root, (";", "&"), top=True, outer=())
        cd_starts = [c.start for c in self.found if c.argv and c.argv[0].text in _CD]
        return [_finish(command, min(cd_starts, default=None)) for command in self.found]

    def sequence(self, node: Node, separators: tuple[str, ...], top: bool, outer: _Outer) -> None:
        """``program``, ``list`` or ``pipeline``: statements joined by operator tokens."""
        previous: Node | None = None
        for child in _flattened(node):
            if previous is None:
                self.gap(node.start_byte, child.start_byte, top)
            else:
                after_operator = not previous.is_named or previous.type == "comment"
                gap = self.gap(previous.end_byte, child.start_byte, top or after_operator)
                statements = child.is_named and previous.is_named
                if statements and "comment" not in (child.type, previous.type) and "\n" not in gap:
                    raise Unparseable("two statements without a separator")
                if child.type == "comment" and not gap and previous.is_named:
                    raise Unparseable("a # inside a word")
            if not child.is_named:
                follows_statement = previous is not None and previous.is_named
                if child.type not in separators or not follows_statement:
                    raise Unparseable(f"the operator {child.type}")
                if previous is not None and previous.type == "comment":
                    raise Unparseable(f"the operator {child.type} after a comment")
            elif child.type != "comment":
                self.statement(child, outer)
            previous = child
        end = node.start_byte if previous is None else previous.end_byte
        self.gap(end, node.end_byte, top)
        if not top and (previous is None or not previous.is_named):
            raise Unparseable("an operator without a command after it")

    def statement(self, node: Node, outer: _Outer) -> None:
        """One statement; ``outer`` are redirections of an enclosing redirected statement."""
        kind = node.type
        if kind == "command":
            self.simple(node, outer)
        elif kind == "list":
            self.sequence(node, ("&&", "||"), top=False, outer=outer)
        elif kind == "pipeline":
            self.sequence(node, ("|", "|&"), top=False, outer=outer)
        elif kind == "negated_command":
            if len(node.children) != 2 or node.children[0].type != "!":
                raise Unparseable("a negation")
            bang, body = node.children
            self.gap(bang.end_byte, body.start_byte, False)
            self.statement(body, outer)
        elif kind == "redirected_statement":
            self.redirected(node, outer)
        elif kind in ("variable_assignment", "variable_assignments"):
            command = _Command(node.start_byte, redirects=list(outer))
            for child in node.children if kind == "variable_assignments" else [node]:
                command.assignments.append(self.assignment(child))
            self.found.append(command)
        elif kind == "declaration_command":
            self.export(node, outer)
        else:
            raise Unparseable(f"{kind} is not a simple command")

    def redirected(self, node: Node, outer: _Outer) -> None:
        """A statement with redirections after it; for a list or pipeline they count for all."""
        children = list(node.children)
        body = None if children[0].type == "file_redirect" else children.pop(0)
        if body is not None and body.type not in _STATEMENTS:
            raise Unparseable(f"{body.type} with redirections")
        own: list[tuple[int, Redirect]] = []
        extra: list[_Value] = []
        previous = body
        for child in children:
            if previous is not None:
                self.separated(previous, child)
            if child.type != "file_redirect":
                raise Unparseable(child.type)
            redirect, words = self.redirect(child)
            own.append((child.start_byte, redirect))
            extra += words
            previous = child
        if body is None:
            if extra:
                raise Unparseable("words after a redirection without a command")
            self.found.append(_Command(node.start_byte, redirects=[*own, *outer]))
        elif body.type == "command":
            self.simple(body, (*own, *outer))
            if extra and not self.found[-1].argv:
                raise Unparseable("words after a redirection before the command name")
            self.found[-1].argv += extra
        elif extra:
            raise Unparseable("words after a redirection of a compound statement")
        else:
            self.statement(body, (*own, *outer))

    def simple(self, node: Node, outer: _Outer) -> None:
        command = _Command(node.start_byte)
        previous: Node | None = None
        for child in node.children:
            if previous is not None:
                self.separated(previous, child)
            kind = child.type
            if kind == "variable_assignment" and not command.argv:
                command.assignments.append(self.assignment(child))
            elif kind == "file_redirect":
                redirect, words = self.redirect(child)
                command.redirects.append((child.start_byte, redirect))
                if words and not command.argv:
                    raise Unparseable("words after a redirection before the command name")
                command.argv += words
            elif kind == "command_name" and not command.argv:
                command.argv.append(self.command_name(child))
            elif kind in _WORD_TYPES and command.argv:
                command.argv.append(self.word(child))
            else:
                raise Unparseable(f"{kind} in a command")
            previous = child
        command.redirects += outer
        self.found.append(command)

    def separated(self, previous: Node, child: Node) -> None:
        """Words must be apart for bash as for tree-sitter; ``2>x`` and ``{fd}>x`` are fds."""
        if self.gap(previous.end_byte, child.start_byte, False):
            return
        if child.type != "file_redirect":
            raise Unparseable("two words without a blank between them")
        before = _WORD_START.split(self.source[: child.start_byte].decode())[-1]
        if _DESCRIPTOR_WORD.fullmatch(before):
            raise Unparseable("a word bash would read as a descriptor")

    def command_name(self, node: Node) -> _Value:
        if len(node.children) != 1:
            raise Unparseable("a command name in parts")
        value = self.word(node.children[0])
        if value.runtime or value.glob:
            raise Unparseable("a command name known only at run time")
        if value.text in _RESERVED:
            raise Unparseable(f"the reserved word {value.text}")
        return value

    def assignment(self, node: Node) -> _Value:
        if node.type != "variable_assignment" or len(node.children) not in (2, 3):
            raise Unparseable(node.type)
        name, op, *value = node.children
        if name.type != "variable_name" or op.type not in ("=", "+="):
            raise Unparseable("an assignment other than NAME=value")
        for before, after in itertools.pairwise(node.children):
            if before.end_byte != after.start_byte:
                raise Unparseable("a blank inside an assignment")
        text = self.text(name)
        if not _NAME.fullmatch(text):
            raise Unparseable("an assignment to something other than a name")
        if not value:
            return _Value(text + op.type, runtime=False, glob=False)
        parsed = self.word(value[0], assigned=True)
        return _Value(text + op.type + parsed.text, runtime=parsed.runtime, glob=False)

    def export(self, node: Node, outer: _Outer) -> None:
        """``export NAME=value``: the only declaration that never evaluates a subscript."""
        keyword, *rest = node.children
        if keyword.type != "export":
            raise Unparseable(f"{keyword.type} can evaluate subscripts")
        command = _Command(node.start_byte, argv=[_Value("export", False, False)])
        previous = keyword
        for child in rest:
            if not self.gap(previous.end_byte, child.start_byte, False):
                raise Unparseable("two words without a blank between them")
            if child.type == "variable_assignment":
                command.argv.append(self.assignment(child))
            elif child.type == "variable_name" and _NAME.fullmatch(self.text(child)):
                command.argv.append(_Value(self.text(child), False, False))
            elif child.type in _WORD_TYPES:
                command.argv.append(self.word(child))
            else:
                raise Unparseable(f"{child.type} in export")
            previous = child
        command.redirects += outer
        self.found.append(command)

    def redirect(self, node: Node) -> tuple[Redirect, list[_Value]]:
        """A file redirection and any words tree-sitter put after its target (arguments)."""
        children = list(node.children)
        fd = None
        if children and children[0].type == "file_descriptor":
            descriptor = children.pop(0)
            if not children or descriptor.end_byte != children[0].start_byte:
                raise Unparseable("a descriptor apart from its operator")
            fd = int(self.text(descriptor))
        if not children or children[0].type not in _REDIRECT_OPS:
            raise Unparseable("an unknown redirection")
        op, *words = children
        if op.type in (">&-", "<&-"):
            if words:
                raise Unparseable("a word after a closed descriptor")
            return Redirect(op.type[:2], fd, "-", False), []
        if not words:
            raise Unparseable("a redirection without a target")
        values: list[_Value] = []
        previous = op
        for word in words:
            gap = self.gap(previous.end_byte, word.start_byte, False)
            if previous is not op and not gap:
                raise Unparseable("two words without a blank between them")
            values.append(self.word(word))
            previous = word
        target = values.pop(0)
        return Redirect(op.type, fd, target.text, target.runtime or target.glob), values

    def word(self, node: Node, assigned: bool = False) -> _Value:
        """One word: its node types must all be inert, and bash's quoting must agree."""
        if node.type not in _WORD_TYPES:
            raise Unparseable(f"{node.type} in a word")
        _check_word(node)
        return _read_word(self.text(node), assigned)


def _flattened(node: Node) -> list[Node]:
    """The children of a node, with tree-sitter's left-nested lists (``a && b || c``) spread
    out, so a long chain is a loop rather than a deep recursion."""
    if node.type != "list":
        return list(node.children)
    children: list[Node] = []
    pending = list(reversed(node.children))
    while pending:
        current = pending.pop()
        if current.type == "list":
            pending += reversed(current.children)
        else:
            children.append(current)
    return children


def _check_word(node: Node) -> None:
    """Every node of a word is a plain part of it; expansions have exactly the plain shape."""
    shape = [part.type for part in node.children]
    if node.type == "simple_expansion":
        if shape not in (["$", "variable_name"], ["$", "special_variable_name"]):
            raise Unparseable("an expansion other than $NAME")
    elif node.type == "expansion":
        if shape not in (["${", "variable_name", "}"], ["${", "special_variable_name", "}"]):
            raise Unparseable("an expansion other than ${NAME}")
    elif node.type not in _INSIDE_WORD:
        raise Unparseable(f"{node.type} in a word")
    else:
        for child in node.children:
            if child.is_named:
                _check_word(child)
            elif child.type not in _INSIDE_WORD_TOKENS and not (
                child.type == "$" and node.type == "string"
            ):
                raise Unparseable(f"{child.type!r} in a word")


def _finish(command: _Command, cd_start: int | None) -> SimpleCommand:
    """After a ``cd``, a relative redirection target is somewhere else than it reads."""
    redirects = []
    for start, redirect in command.redirects:
        names_file = not (redirect.op in (">&", "<&") and _FD_TARGET.fullmatch(redirect.target))
        moved = cd_start is not None and start > cd_start and not redirect.target.startswith("/")
        if moved and names_file:
            redirect = Redirect(redirect.op, redirect.fd, redirect.target, True)
        redirects.append(redirect)
    words = (*command.assignments, *command.argv)
    return SimpleCommand(
        argv=tuple(value.text for value in command.argv),
        assignments=tuple(value.text for value in command.assignments),
        redirects=tuple(redirects),
        dynamic_args=any(value.runtime for value in command.argv[1:]),
        runtime=tuple(value.runtime or value.glob for value in words),
        globs=tuple(value.glob for value in command.argv),
        after_cd=cd_start is not None and command.start > cd_start,
    )


def _read_word(text: str, assigned: bool) -> _Value:
    """Quote removal as bash does it, refusing any expansion but a plain parameter."""
    out: list[str] = []
    plain: list[str] = []  # the word with quoted characters blanked, to look for globs

    def add(chars: str, quoted: bool) -> None:
        out.append(chars)
        plain.append(" " * len(chars) if quoted else chars)

    runtime = False
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            escaped = text[pos + 1 : pos + 2]
            if escaped != "\n":
                add(escaped or "\\", quoted=True)
            pos += 2
        elif char == "'":
            end = text.find("'", pos + 1)
            if end < 0:
                raise Unparseable("an unterminated quote")
            add(text[pos + 1 : end], quoted=True)
            pos = end + 1
        elif char == '"':
            pos, expanded = _read_double_quoted(text, pos + 1, add)
            runtime = runtime or expanded
        elif char == "$":
            pos = _read_expansion(text, pos, add)
            runtime = True
        elif char in _METACHARACTERS or (char == "#" and pos == 0 and not assigned):
            raise Unparseable(f"an unquoted {char!r} inside a word")
        else:
            add(char, quoted=False)
            pos += 1
    unquoted = "".join(plain)
    glob = not assigned and _has_glob(unquoted)
    runtime = runtime or _has_tilde(unquoted) or (not assigned and _has_braces(unquoted))
    return _Value("".join(out), runtime=runtime, glob=glob)


def _read_double_quoted(text: str, pos: int, add: _Adder) -> tuple[int, bool]:
    """The inside of ``"..."`` from ``pos``; returns where it ends and whether it expands."""
    expanded = False
    while pos < len(text):
        char = text[pos]
        escaped = text[pos + 1 : pos + 2]
        if char == '"':
            return pos + 1, expanded
        if char == "\\" and escaped and escaped in '$`"\\\n':
            if escaped != "\n":
                add(escaped, quoted=True)
            pos += 2
        elif char == "`":
            raise Unparseable("command substitution")
        elif char == "$" and (escaped == "" or escaped in _LITERAL_DOLLAR_BEFORE):
            add(char, quoted=True)
            pos += 1
        elif char == "$":
            pos = _read_expansion(text, pos, add)
            expanded = True
        else:
            add(char, quoted=True)
            pos += 1
    raise Unparseable("an unterminated double quote")


def _read_expansion(text: str, pos: int, add: _Adder) -> int:
    """A plain ``$NAME``, ``${NAME}`` or special parameter, kept as written."""
    after = text[pos + 1 : pos + 2]
    if after == "{":
        end = text.find("}", pos) + 1
        if not end or not _PLAIN_BRACED.fullmatch(text[pos + 1 : end]):
            raise Unparseable("an expansion other than ${NAME}")
    elif name := _NAME.match(text, pos + 1):
        end = name.end()
    elif after and after in _SPECIAL_PARAMETERS:
        end = pos + 2
    else:
        raise Unparseable("a $ that is not a plain parameter")
    add(text[pos:end], quoted=True)
    return end


def _has_glob(plain: str) -> bool:
    """Unquoted ``*``, ``?`` or ``[...]``; a lone ``[`` or ``]`` is literal."""
    opening = plain.find("[")
    return "*" in plain or "?" in plain or (opening >= 0 and "]" in plain[opening + 1 :])


def _has_tilde(plain: str) -> bool:
    """A leading ``~``, or (over-approximated) one after ``=`` or ``:``."""
    return any(
        char == "~" and (index == 0 or plain[index - 1] in "=:") for index, char in enumerate(plain)
    )


def _has_braces(plain: str) -> bool:
    """``{a,b}`` or ``{1..3}``; over-approximated, which only makes words dynamic."""
    start, end = plain.find("{"), plain.rfind("}")
    return 0 <= start < end and ("," in plain[start:end] or ".." in plain[start:end])
