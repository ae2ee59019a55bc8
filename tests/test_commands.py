"""Command lines judged for permission rules: agent.policy.commands parse (the syntax layer),
readings and opaque (the meaning), deny_match, matches, read_only and suggest_pattern."""

from __future__ import annotations

import itertools
import shlex
import shutil
import subprocess
from fnmatch import fnmatchcase

import pytest

from agent.policy.commands import (
    Reading,
    Redirect,
    SimpleCommand,
    deny_match,
    is_secret_path,
    matches,
    opaque,
    parse,
    read_only,
    readings,
    suggest_pattern,
)


def argvs(line: str) -> list[list[str]] | None:
    commands = parse(line)
    return None if commands is None else [list(command.argv) for command in commands]


def only(line: str) -> SimpleCommand:
    commands = parse(line)
    assert commands is not None and len(commands) == 1, commands
    return commands[0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pytest", [["pytest"]]),
        ("  pytest   -q\ttests/  ", [["pytest", "-q", "tests/"]]),
        ("", []),
        ("   \n\n ", []),
        ("# only a comment", []),
        ("echo 'a;b'", [["echo", "a;b"]]),
        ("echo 'a && b | c > d'", [["echo", "a && b | c > d"]]),
        ('echo "a;b" "c|d"', [["echo", "a;b", "c|d"]]),
        ("echo 'it''s'", [["echo", "its"]]),
        ("echo ''", [["echo", ""]]),
        ("echo a''b", [["echo", "ab"]]),
        ('echo "say \\"hi\\""', [["echo", 'say "hi"']]),
        ('echo "back\\\\slash \\$ \\` \\n"', [["echo", "back\\slash $ ` \\n"]]),
        ("echo 'no \\escape'", [["echo", "no \\escape"]]),
        ("echo a\\;b \\|", [["echo", "a;b", "|"]]),
        ("echo a\\ b", [["echo", "a b"]]),
        ("echo \"$HOME is 'home'\"", [["echo", "$HOME is 'home'"]]),
        ('echo "end$" "a$ b" "$/x"', [["echo", "end$", "a$ b", "$/x"]]),
        ("pytest \\\n  -q", [["pytest", "-q"]]),
        ('echo "line\\\njoined"', [["echo", "linejoined"]]),
        ("echo 'keep\\\nboth'", [["echo", "keep\\\nboth"]]),
        ("echo 'multi\nline'", [["echo", "multi\nline"]]),
        ("a; b", [["a"], ["b"]]),
        ("a\nb", [["a"], ["b"]]),
        ("a && b", [["a"], ["b"]]),
        ("a || b", [["a"], ["b"]]),
        ("a | b", [["a"], ["b"]]),
        ("a |& b", [["a"], ["b"]]),
        ("a & b", [["a"], ["b"]]),
        ("a&&b||c|d;e&f", [["a"], ["b"], ["c"], ["d"], ["e"], ["f"]]),
        ("a;", [["a"]]),
        ("a &", [["a"]]),
        ("a &&\n\n b", [["a"], ["b"]]),
        ("a |\n b", [["a"], ["b"]]),
        ("echo hi # rm -rf ~", [["echo", "hi"]]),
        ("echo hi #; rm x\nls", [["echo", "hi"], ["ls"]]),
        ("echo a#b", [["echo", "a#b"]]),
        ("echo hi;# comment", [["echo", "hi"]]),
        ("echo '#not comment'", [["echo", "#not comment"]]),
        ("echo *.py src/?.txt [ab]", [["echo", "*.py", "src/?.txt", "[ab]"]]),
        ("test -f x[", [["test", "-f", "x["]]),
        ("time rm x", [["time", "rm", "x"]]),
        ("! rm x", [["rm", "x"]]),
        ("export A=1 B", [["export", "A=1", "B"]]),
        ("cd src && ls", [["cd", "src"], ["ls"]]),
        ("echo a{b,c} {1..3}", [["echo", "a{b,c}", "{1..3}"]]),
        ("eval 'rm -rf ~'", [["eval", "rm -rf ~"]]),
        ("bash -c 'pytest; rm x'", [["bash", "-c", "pytest; rm x"]]),
        ("sudo rm x", [["sudo", "rm", "x"]]),
        ("xargs rm < list", [["xargs", "rm"]]),
        (". ./env.sh", [[".", "./env.sh"]]),
        ("echo a=b", [["echo", "a=b"]]),
        ("echo {}", [["echo", "{}"]]),
        ("echo }", [["echo", "}"]]),
    ],
)
def test_parse_words_and_separators(line: str, expected: list[list[str]]) -> None:
    assert argvs(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "echo $(rm -rf ~)",
        "echo $(( 1 + 2 ))",
        "echo $[1 + 2]",
        "echo `id`",
        'echo "$(id)"',
        'echo "`id`"',
        "echo ${x:-$(id)}",
        "echo ${x",
        "diff <(ls a) <(ls b)",
        "tee >(sh)",
        "cat <<EOF\nhi\nEOF",
        "cat <<-EOF\nhi\nEOF",
        "cat 2<<EOF\nhi\nEOF",
        "(cd x && rm y)",
        "echo hi)",
        "{ echo hi; }",
        "f() { rm x; }",
        "arr=(1 2)",
        "echo 'unterminated",
        'echo "unterminated',
        'echo "a\\"',
        "$CMD -q",
        "${CMD} -q",
        "~/bin/tool",
        "py* -q",
        "/bin/l? -l",
        "[ab]ls",
        "l[s] -l",
        "{rm,-rf,x}",
        "if true; then rm x; fi",
        "for f in *; do rm $f; done",
        "while true; do :; done",
        "until false; do :; done",
        "case x in x) rm y;; esac",
        "function f { rm x; }",
        "select x in a; do :; done",
        "coproc rm x",
        "[[ -f x ]]",
        "FOO=1 if true",
        "echo hi; fi",
        "echo $'\\x3b'",
        'echo $"hi"',
        "echo {fd}>x",
        "echo x;{fd}>x",
        "echo $ 5$ a$%",
        "echo a$",
        "pyt\\\nest -q",
        "echo a\\\nb",
        "pytest\rx; rm x",
        "echo \x0bx",
        "[ -f x ]",
        "[x -f y",
        "[[ -f x ]]",
        "cmd <<< 'text'",
        "cmd <> file",
        "cmd 0<&3",
        "cmd 3>&1- 0<&3",
        "1FOO=1",
        "a[1]=2 cmd",
        "a[$(id)]=1 pytest",
        "declare x=1",
        "typeset x",
        "local x",
        "readonly x",
        "export a[1]=2",
        "unset x",
        "echo ${x:-y}",
        "echo ${#x}",
        "echo ${!x}",
        "echo ${x[1]}",
        "echo ${x[$(id)]}",
        "echo ${_@P}",
        "echo ${HOME:_}",
        "echo ${x/a/b}",
        "echo ${x^^}",
        'echo "${x@Q}"',
        "echo $((1 + 2))",
        "echo $[1]",
        "cat < <(ls)",
        "echo $'a'",
        "coproc { rm x; }",
        "echo hi; }",
        "echo \x00",
        "echo hi >",
        "echo hi > | cat",
        "echo hi |",
        "echo hi &&",
        "| cat",
        "&& ls",
        "; ls",
        "ls ;; ls",
        "ls\n; rm x",
    ],
)
def test_parse_gives_up(line: str) -> None:
    assert parse(line) is None


def test_assignments_only_lead() -> None:
    command = only("FOO=1 BAR+=two pytest a=b FOO=2")
    assert command.assignments == ("FOO=1", "BAR+=two")
    assert command.argv == ("pytest", "a=b", "FOO=2")


@pytest.mark.parametrize(
    ("line", "assignments", "argv"),
    [
        ("FOO=1", ("FOO=1",), ()),
        ("A='x y' B=\"$HOME\"", ("A=x y", "B=$HOME"), ()),
        ('"FOO"=1 cmd', (), ("FOO=1", "cmd")),
        ("F\\OO=1 cmd", (), ("FOO=1", "cmd")),
        ("FOO=1 > out BAR=2 cmd", ("FOO=1", "BAR=2"), ("cmd",)),
    ],
)
def test_assignments(line: str, assignments: tuple[str, ...], argv: tuple[str, ...]) -> None:
    command = only(line)
    assert command.assignments == assignments
    assert command.argv == argv


@pytest.mark.parametrize(
    ("line", "redirect", "writes"),
    [
        ("cmd > out", Redirect(">", None, "out", False), True),
        ("cmd >out", Redirect(">", None, "out", False), True),
        ("cmd >> out", Redirect(">>", None, "out", False), True),
        ("cmd < in", Redirect("<", None, "in", False), False),
        ("cmd >| out", Redirect(">|", None, "out", False), True),
        ("cmd &> out", Redirect("&>", None, "out", False), True),
        ("cmd &>> out", Redirect("&>>", None, "out", False), True),
        ("cmd 2> err", Redirect(">", 2, "err", False), True),
        ("cmd 2>> err", Redirect(">>", 2, "err", False), True),
        ("cmd 2>&1", Redirect(">&", 2, "1", False), False),
        ("cmd 1>&2", Redirect(">&", 1, "2", False), False),
        ("cmd >&2", Redirect(">&", None, "2", False), False),
        ("cmd 2>&-", Redirect(">&", 2, "-", False), False),
        ("cmd 3>&1-", Redirect(">&", 3, "1-", False), False),
        ("cmd >&file", Redirect(">&", None, "file", False), True),
        ("cmd >&$FD", Redirect(">&", None, "$FD", True), True),
        ("cmd 2<&3", Redirect("<&", 2, "3", False), False),
        ("cmd <&-", Redirect("<&", None, "-", False), False),
        ("cmd 3<in", Redirect("<", 3, "in", False), False),
        ("cmd 10> log", Redirect(">", 10, "log", False), True),
        ("cmd > 'my file'", Redirect(">", None, "my file", False), True),
        ("cmd > ~/.bashrc", Redirect(">", None, "~/.bashrc", True), True),
        ("cmd > $OUT", Redirect(">", None, "$OUT", True), True),
        ('cmd > "${OUT}"', Redirect(">", None, "${OUT}", True), True),
        ("cmd > *.txt", Redirect(">", None, "*.txt", True), True),
        ("cmd > '*.txt'", Redirect(">", None, "*.txt", False), True),
    ],
)
def test_redirect_forms(line: str, redirect: Redirect, writes: bool) -> None:
    command = only(line)
    assert command.argv == ("cmd",)
    assert command.redirects == (redirect,)
    assert redirect.writes is writes


@pytest.mark.parametrize(
    ("line", "argv", "targets"),
    [
        ("> out.txt echo hi", ("echo", "hi"), ("out.txt",)),
        ("echo > out.txt hi", ("echo", "hi"), ("out.txt",)),
        ("< in sort -u > out", ("sort", "-u"), ("in", "out")),
        ("echo 2 >x", ("echo", "2"), ("x",)),
        ("echo a2>x", ("echo", "a2"), ("x",)),
        ("echo '2'>x", ("echo", "2"), ("x",)),
        ("echo 'a>b' \">\"", ("echo", "a>b", ">"), ()),
    ],
)
def test_redirect_positions(line: str, argv: tuple[str, ...], targets: tuple[str, ...]) -> None:
    command = only(line)
    assert command.argv == argv
    assert tuple(redirect.target for redirect in command.redirects) == targets
    assert all(redirect.fd is None for redirect in command.redirects)


def test_redirect_only_command() -> None:
    assert parse("> out") == [SimpleCommand((), (), (Redirect(">", None, "out", False),))]


def test_redirects_around_a_list_or_pipeline_count_for_every_command() -> None:
    """tree-sitter puts ``a | b > x`` 's redirection on the pipeline: both are checked."""
    for line in ("a | b > out", "a && b > out", "! a > out"):
        commands = parse(line) or []
        assert commands and all(
            [redirect.target for redirect in command.redirects] == ["out"] for command in commands
        ), line


@pytest.mark.parametrize(
    ("line", "dynamic"),
    [
        ("cd src && ls > out", [True, True]),  # the list carries it
        ("ls > out; cd src", [False, False]),
        ("pushd src; ls > out", [False, True]),
        ("cd src; ls > /abs/out 2>&1", [False, False]),
        ("cd ..; echo > ../x", [False, True]),
    ],
)
def test_redirects_after_cd_are_dynamic(line: str, dynamic: list[bool]) -> None:
    """After ``cd``, a relative redirection target is not where it reads."""
    commands = parse(line) or []
    flags = [any(r.dynamic for r in command.redirects if r.writes) for command in commands]
    assert flags == dynamic


@pytest.mark.parametrize(
    ("line", "runtime", "globs"),
    [
        ("pytest a 'b*' \\? c*", [False, False, False, False, True], [False] * 4 + [True]),
        ('X=$Y cmd $Z "$W" ~ a{b,c} [ab]', [True, False, True, True, True, True, True], None),
        ("cmd '$X' \\$X \"\\$X\"", [False, False, False, False], None),
        ("cmd x[ y] a]", [False, False, False, False], None),
    ],
)
def test_words_known_only_at_run_time(
    line: str, runtime: list[bool], globs: list[bool] | None
) -> None:
    command = only(line)
    assert list(command.runtime) == runtime
    if globs is not None:
        assert list(command.globs) == globs


def test_long_lines_are_read_without_deep_recursion() -> None:
    """tree-sitter nests ``a && b && …`` to the left; a long chain must not overflow."""
    commands = parse(" && ".join(["true"] * 3000) + " || git push")
    assert commands is not None and len(commands) == 3001
    assert commands[-1].argv == ("git", "push")
    assert deny_match("git push x", Reading(("git", *[None] * 5000))) == "maybe"


def test_commands_after_cd_are_marked() -> None:
    assert [command.after_cd for command in parse("ls; cd sub && git status; pwd") or []] == [
        False,
        False,
        True,
        True,
    ]


def test_a_hand_built_command_is_literal() -> None:
    command = SimpleCommand(("git", "push"))
    assert not command.runtime_arg(1) and not command.glob_arg(1)


@pytest.mark.parametrize(
    ("line", "dynamic"),
    [
        ("pytest tests/", False),
        ("pytest *.py", False),
        ("pytest '$HOME' \\~", False),
        ("pytest $HOME", True),
        ("pytest ${HOME}/x", True),
        ('pytest "$1"', True),
        ("pytest $@", True),
        ("pytest ~/x", True),
        ("pytest ~", True),
        ("pytest a{b,c}", True),
        ("pytest {1..3}", True),
        ("pytest --root=~/x", True),
        ("FOO=$X pytest", False),
    ],
)
def test_dynamic_args(line: str, dynamic: bool) -> None:
    command = only(line)
    assert command.argv[0] == "pytest"
    assert command.dynamic_args is dynamic


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    "args",
    [
        "'a;b' \"c d\" e\\ f",
        '"x\\"y" \'p\\q\' "\\a\\$\\\\"',
        "a''b \"\"'' '' \\'",
        "'th\nree' \"multi\nline\" \\\n next",
        "a\\'b \"c'd\" 'e\"f' \\\\ \\\" \\$x",
        '"\\a\\b" \'\\\' "\\$\\`"',
        '"end$" "$/" a=b --x=y %s',
        "'*' \\* \"?\" \\[a] '{a,b}' \\~ \"~\"",
        "é ü 日本 '\t' \"\\t\"",
        "a#b '#c' \"d\"#e",
    ],
)
def test_words_agree_with_bash(args: str) -> None:
    """The words after quote removal are the ones bash hands to the command."""
    line = f"printf '<%s>\\n' {args}"
    result = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True)
    command = only(line)
    assert "".join(f"<{arg}>\n" for arg in command.argv[2:]) == result.stdout


@pytest.mark.parametrize(
    ("pattern", "line", "expected"),
    [
        ("pytest *", "pytest", True),
        ("pytest *", "pytest -q tests/", True),
        ("pytest *", "pytest 'a b'", True),
        ("pytest *", "pytestx", False),
        ("pytest *", "FOO=1 pytest", False),
        ("pytest *", "python -m pytest", False),
        ("FOO=1 pytest *", "FOO=1 pytest -q", True),
        ("npm run test*", "npm run test", True),
        ("npm run test*", "npm run test:unit", True),
        ("npm run test*", "npm run build", False),
        ("npm run test*", "npm run test extra", True),
        ("npm run test*", "npm run test:unit -- --watch", True),
        ("npm run test*", "npm run", False),
        ("python3 -m pytest*", "python3 -m pytest -q", True),
        ("python3 -m pytest*", "python3 -m pytest", True),
        ("python3 -m pytest*", "python3 -m unittest", False),
        ("pytest*", "pytest -q tests/", True),
        ("pytest*", "pytest-3 -x", True),
        ("pytest*", "pytest/../../bin/sh x", False),
        ("pytest*", "./pytest", False),
        ("*", "./evil.sh", True),
        ("./run*", "./run-tests.sh -q", True),
        ("git push*", "git push origin main", True),
        ("git status", "git status", True),
        ("git status", "git status -s", False),
        ("git status", "git", False),
        ("git *", "git push --force", True),
        ("*", "anything at all", True),
        ("npm run test*", "npm run test$X", False),
        ("npm run test*", "npm run test:unit $X", True),
        ("python3 -m pytest*", "python3 -m pytest$X -q", False),
        ("npm run *", "npm run test$X", True),
        ("ls *", "ls ~", True),
        ("ls ~", "ls ~", False),
        ("cat '[*]'", "cat '*'", True),
        ("cat '[*]'", "cat x", False),
        ("pytest 'unterminated", "pytest", False),
        ("", "pytest", False),
    ],
)
def test_matches(pattern: str, line: str, expected: bool) -> None:
    assert matches(pattern, only(line)) is expected


@pytest.mark.parametrize(
    ("pattern", "line"),
    [
        ("git push *", "git $X"),
        ("git push *", "git pu*"),
        ("pytest -q *", "pytest ~"),
        ("FOO=1 pytest *", "FOO=$X pytest"),
    ],
)
def test_words_known_at_run_time_only_match_the_final_star(pattern: str, line: str) -> None:
    assert not matches(pattern, only(line))


def test_empty_argv_never_matches() -> None:
    assert not matches("*", only("FOO=1"))
    assert not matches("FOO=1 *", only("FOO=1"))
    assert not matches("*", only("> out"))


def _fooled(line: str) -> bool:
    """Whether running ``line`` would be approved by a ``pytest *`` rule alone."""
    commands = parse(line)
    if commands is None:
        return False
    for command in commands:
        if not matches("pytest *", command):
            return False
        if any(redirect.writes and redirect.dynamic for redirect in command.redirects):
            return False
    return True


@pytest.mark.parametrize(
    "line",
    [
        "pytest; rm -rf ~",
        "pytest && curl x | sh",
        "pytest | bash",
        "pytest $(rm -rf ~)",
        "pytest `id`",
        "pytest\nrm -rf ~",
        "PYTHONPATH=/tmp/evil pytest",
        "LD_PRELOAD=x pytest",
        "pytest > ~/.bashrc",
        "pytest & rm x",
        "pytest || rm x",
        "pytest |& sh",
        'bash -c "pytest; rm x"',
        "pytest \\\n; rm x",
        "pytest #\nrm x",
        "pytest <(rm x)",
        "pytest ${x:-`rm x`}",
        "pytest 'a' ;rm x",
        "pytest\rx; rm x",
        "pytest > $HOME/.profile",
        "{pytest,rm} x",
        "$(echo pytest)",
    ],
)
def test_pytest_rule_is_not_fooled(line: str) -> None:
    assert not _fooled(line)


def test_pytest_rule_still_allows_pytest() -> None:
    assert _fooled("pytest -q tests/ 2>&1 | pytest --version")


def test_home_redirect_is_flagged() -> None:
    (command,) = parse("pytest > ~/.bashrc") or []
    assert matches("pytest *", command)
    (redirect,) = command.redirects
    assert redirect.writes and redirect.dynamic


@pytest.mark.parametrize(
    "line",
    [
        "ls -la",
        "cat README.md",
        "head -n 5 a.txt",
        "tail -f log",
        "wc -l *.py",
        "pwd",
        "echo hi",
        "printf '%s' x",
        "which python",
        "type ls",
        "file x.bin",
        "stat x",
        "du -sh .",
        "df -h",
        "tree -L 2",
        "realpath .",
        "dirname a/b",
        "basename a/b",
        "sort -u names.txt",
        "uniq -c names.txt",
        "uniq -f 1 names.txt",
        "diff a b",
        "cmp a b",
        "grep -rn TODO src",
        "egrep x y",
        "fgrep x y",
        "find . -name '*.py' -type f",
        "git status",
        "git --no-pager log --oneline -5",
        "git diff HEAD~1 --stat",
        "git show HEAD",
        "git blame x.py",
        "git rev-parse HEAD",
        "git ls-files",
        "git grep -n foo",
        "git describe --tags",
        "git shortlog -sn",
        "git branch",
        "git branch -a -vv",
        "git branch --show-current",
        "python --version",
        "python3 --version",
        "node --version",
        "uname -a",
        "date",
        "date +%s",
        "whoami",
        "id",
        "printenv PATH",
        "cat .env.example",
        "cat config/.env.sample",
        "ls 2>&1",
        "cat < README.md",
        "grep x a.py | sort | uniq -c",
    ],
)
def test_read_only(line: str) -> None:
    commands = parse(line)
    assert commands and all(read_only(command) for command in commands)


@pytest.mark.parametrize(
    "line",
    [
        "rm x",
        "env",
        "env ls",
        "xargs cat",
        "bash -c ls",
        "sudo ls",
        "/bin/ls",
        "FOO=1 ls",
        "ls > out",
        "ls >> out",
        "ls &> out",
        "ls >& out",
        "cat < $F",
        "cat $F",
        "echo $ANTHROPIC_API_KEY",
        "cat ~/notes",
        "find . -delete",
        "find . -name x -exec rm {} ;",
        "find . -execdir sh -c x ;",
        "find . -ok rm {} ;",
        "find . -fprint out",
        "find . -fls out",
        "rg --pre=sh x",
        "rg --pre sh x",
        "rg --pre-glob '*' x",
        "rg --hostname-bin=sh x",
        "git diff --output=x",
        "git log --output x",
        "git diff --outp=x",
        "git diff --ext-diff",
        "git grep -Ovim foo",
        "git grep --open-files-in-pager=vim foo",
        "git -c core.pager=x log",
        "git -C /tmp status",
        "git push",
        "git commit -m x",
        "git branch new-branch",
        "git branch -D main",
        "git",
        "sort -o f names",
        "sort -uo f names",
        "sort --output=f names",
        "sort --out=f names",
        "sort --compress-program=sh names",
        "uniq in out",
        "uniq -c in out",
        "uniq -- -a -b",
        "tree -o out",
        "tree -R",
        "file -C -m magic",
        "date -s 2020-01-01",
        "date --set=2020-01-01",
        "pytest --collect-only",
        "python -m pytest --collect-only",
        "python3 -m pytest --collect-only -q",
        "python script.py",
        "python -c 'print(1)'",
        "node -e x",
        "cat .env",
        "cat .env.local",
        "cat config/.env.production",
        "cat .ENV",
        "cat ~/.ssh/id_rsa",
        "cat /home/me/.ssh/id_rsa",
        "cat /home/me/.ssh/config",
        "ls /root/.ssh",
        "cat /root/.aws/credentials",
        "cat server.pem",
        "cat tls/server.key",
        "cat id_ed25519",
        "cat ~/.netrc",
        "cat .pypirc",
        "cat .npmrc",
        "cat cert.p12",
        "cat cert.pfx",
        "cat /proc/self/environ",
        "grep --file=.env x",
        "git show HEAD:.env",
        "cat < .env",
        "cat /root/.ss?/id*",
        "cat /root/.s*/config",
        "cat .e*",
        "cat keys/*",
    ],
)
def test_not_read_only(line: str) -> None:
    commands = parse(line)
    assert commands is not None
    assert not all(read_only(command) for command in commands)


def test_nothing_to_run_is_not_read_only() -> None:
    assert not read_only(only("FOO=1"))
    assert not read_only(only("< README.md"))


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        (".env", True),
        ("app/.env.local", True),
        (".env.example", False),
        (".env.sample", False),
        (".env.template", False),
        ("env.py", False),
        (".envrc", False),
        ("~/.ssh/known_hosts", True),
        ("/home/u/.aws/config", True),
        ("key.pem", True),
        ("KEY.PEM", True),
        ("id_rsa.pub", True),
        ("src/keyboard.py", False),
        ("README.md", False),
    ],
)
def test_is_secret_path(path: str, secret: bool) -> None:
    assert is_secret_path(path) is secret


def reading_words(line: str) -> set[tuple[str | None, ...]]:
    """The words of every reading of every command in ``line``."""
    return {reading.words for command in parse(line) or [] for reading in readings(command)}


@pytest.mark.parametrize(
    ("line", "reading"),
    [
        ("/usr/bin/git push", ("git", "push")),
        ("X=1 Y=2 git push", ("git", "push")),
        ("X=1 git push", ("X=1", "git", "push")),
        ("env GIT_TRACE=1 -u X git push", ("git", "push")),
        ("env -i -C /tmp A=1 git push", ("git", "push")),
        ("nice -n 5 git push", ("git", "push")),
        ("nice -5 git push", ("git", "push")),
        ("ionice -c 3 git push", ("git", "push")),
        ("nohup git push", ("git", "push")),
        ("timeout 60 git push", ("git", "push")),
        ("timeout -k 5 -s KILL 10 git push", ("git", "push")),
        ("sudo -u root -E git push", ("git", "push")),
        ("doas -u root git push", ("git", "push")),
        ("stdbuf -o0 -e L git push", ("git", "push")),
        ("setsid -f git push", ("git", "push")),
        ("chroot / git push", ("git", "push")),
        ("time -p git push", ("git", "push")),
        ("time -f %e -o t git push", ("git", "push")),
        ("flock /tmp/l git push", ("git", "push")),
        ("flock /tmp/l -c 'git push'", ("git", "push")),
        ("taskset -c 0 git push", ("git", "push")),
        ("taskset 1 git push", ("git", "push")),
        ("chrt -f 10 git push", ("git", "push")),
        ("unbuffer git push", ("git", "push")),
        ("strace -f -o log git push", ("git", "push")),
        ("ltrace -e x git push", ("git", "push")),
        ("command git push", ("git", "push")),
        ("exec -a name git push", ("git", "push")),
        ("builtin exec git push", ("git", "push")),
        ("busybox sh -c 'git push'", ("git", "push")),
        ("nice -- git push", ("git", "push")),
        ("nice -n 5 -- git push", ("git", "push")),
        ("env nice nohup timeout 5 git push", ("git", "push")),
        ("watch -n 5 git push", ("git", "push")),
        ("watch 'git push'", ("git", "push")),
        ("su -c 'git push'", ("git", "push")),
        ("script -qc 'git push' /dev/null", ("git", "push")),
        ("su -c'git push' user", ("git", "push")),
        ("xargs git push", ("git", "push", None)),
        ("xargs -n1 -P4 git", ("git", None)),
        ("xargs -I{} git {} origin", ("git", None, "origin", None)),
        ("xargs -I X git X", ("git", None, None)),
        ("xargs -i git {}", ("git", None, None)),
        ("find . -exec git push {} ;", ("git", "push", None)),
        ("find . -execdir git {} +", ("git", None)),
        ("find . -ok rm -rf {} \\;", ("rm", "-rf", None)),
        ("find . -name x -delete", ("rm", None)),
        ("git -C . push", ("git", "push")),
        ("git -C. push", ("git", "push")),
        ("git -c k=v push", ("git", "push")),
        ("git --git-dir=.git push", ("git", "push")),
        ("git --git-dir .git --work-tree . push", ("git", "push")),
        ("git --no-pager -p -P --bare --literal-pathspecs push", ("git", "push")),
        ("git --namespace=x --no-optional-locks push", ("git", "push")),
        ("git submodule foreach 'git push'", ("git", "push")),
        ("git submodule foreach --recursive git push", ("git", "push")),
        ("git rebase -x 'git push' main", ("git", "push")),
        ("git rebase --exec='git push' main", ("git", "push")),
        ("git bisect run git push", ("git", "push")),
        ("npm --silent publish", ("npm", "publish")),
        ("npm --prefix ./x publish", ("npm", "publish")),
        ("npm -w pkg publish", ("npm", "publish")),
        ("sh -c 'git push'", ("git", "push")),
        ("bash -lc 'echo; git push'", ("git", "push")),
        ("bash -o pipefail -c 'git push'", ("git", "push")),
        ("bash -c -- 'git push'", ("git", "push")),
        ("zsh -c 'env git push'", ("git", "push")),
        ("fish --command='git push'", ("git", "push")),
        ("sh -c \"sh -c 'git push'\"", ("git", "push")),
        ("/usr/lib/git-core/git-push origin", ("git", "push", "origin")),
        ("git send-pack origin main", ("git", "push", "origin", "main")),
        ("parallel git push ::: origin", ("git", "push", ":::", "origin")),
        ("uv run git push", ("git", "push")),
        ("uv run --with x -- git push", ("git", "push")),
        ("poetry run git push", ("git", "push")),
        ("npm exec -- git push", ("git", "push")),
        ("npm exec -c 'git push'", ("git", "push")),
        ("npx -c 'git push'", ("git", "push")),
        ("bundle exec git push", ("git", "push")),
        ("direnv exec . git push", ("git", "push")),
    ],
)
def test_readings_see_what_runs(line: str, reading: tuple[str | None, ...]) -> None:
    found = reading_words(line)
    assert reading in found, found


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("eval x", "eval evaluates text"),
        ("source x.sh", "source evaluates text"),
        (". x.sh", ". evaluates text"),
        ("trap x EXIT", "trap evaluates text"),
        ("let x=1", "let evaluates"),
        ("fc -s", "fc evaluates"),
        ("read x", "read can evaluate an array subscript"),
        ("mapfile x", "mapfile"),
        ("readarray -C cb x", "readarray"),
        ("wait -p 'a[1]'", "wait"),
        ("compgen -W x", "compgen"),
        ("\\declare x", "declare"),
        ("'local' x", "local"),
        ("'unset' x", "unset"),
        ("alias ls=x", "alias changes how later commands are found"),
        ("enable -f x.so ls", "enable"),
        ("hash -p ./x ls", "hash"),
        ("shopt -s expand_aliases", "shopt"),
        ("bind -x x", "bind"),
        ("complete -C x ls", "complete"),
        ("jobs -x git push", "jobs"),
        ("parallel ::: 'git push'", "parallel"),
        ("printf -v x y", "printf -v"),
        ("printf -vx y", "printf -v"),
        ("printf $F y", "printf -v"),
        ("test -v 'a[1]'", "test -v"),
        ("'[' -v x ']'", "[ -v"),
        ("test $X", "test -v"),
        ("PS4=x", "sets PS4"),
        ("RANDOM='a[$(id)]'", "sets RANDOM"),
        ("OPTIND+=1", "sets OPTIND"),
        ("export SRANDOM=1 HISTCMD=1", "sets SRANDOM"),
        ("BASH_ENV=x pytest", "sets BASH_ENV"),
        ("export PROMPT_COMMAND=x", "sets PROMPT_COMMAND"),
        ("env 'BASH_FUNC_ls%%=() { x; }' bash -c ls", "sets BASH_FUNC_ls%%"),
        ("env LD_PRELOAD=x.so ls", "sets LD_PRELOAD"),
        ("GIT_CONFIG_COUNT=1 git status", "sets GIT_CONFIG_COUNT"),
        ("env -S 'git push'", "env -S"),
        ("env -iS'a b'", "env -S"),
        ("env --split-string='a b'", "env -S"),
        ("bash", "reads commands from its input"),
        ("sh -s", "reads commands from its input"),
        ("bash -", "reads commands from its input"),
        ("bash /dev/stdin", "reads commands from its input"),
        ("sh -i", "reads commands from its input"),
        ("bash $F", "only known at run time"),
        ('bash -c "$X"', "only known at run time"),
        ("bash -c 'echo $(id)'", "too complex"),
        ("fish -C 'x'", "inline"),
        ("su", "starts a shell"),
        ("su root", "starts a shell"),
        ("sudo -s", "starts a shell"),
        ("unshare -r", "starts a shell"),
        ("uv run python -c x", "inline"),
        ("python", "reads code from its input"),
        ("python -c x", "inline"),
        ("python3 -Ic x", "inline"),
        ("python3.12 -c x", "inline"),
        ("python -i x.py", "inline"),
        ("python -", "reads code"),
        ("python -W ignore -", "reads code"),
        ("python -- /dev/stdin", "reads code"),
        ("node", "reads code"),
        ("node -e x", "inline"),
        ("node --eval=x", "inline"),
        ("node -pe x", "inline"),
        ("node --input-type module", "reads code"),
        ("nodejs -p x", "inline"),
        ("deno eval x", "inline"),
        ("deno run -", "reads code"),
        ("bun -e x", "inline"),
        ("perl -e x", "inline"),
        ("perl -ne x f", "inline"),
        ("perl -MO=Deparse x.pl", "inline"),
        ("perl", "reads code"),
        ("ruby -e x", "inline"),
        ("php -r x", "inline"),
        ("php -d auto_prepend_file=x y.php", "inline"),
        ("lua -e x", "inline"),
        ("Rscript -e x", "inline"),
        ("R -e x", "inline"),
        ("osascript -e x", "inline"),
        ("julia -e x", "inline"),
        ("tclsh", "reads code"),
        ("pwsh -c x", "inline"),
        ("awk 'BEGIN { system(\"x\") }'", "awk"),
        ("awk '{ print | \"sh\" }'", "awk"),
        ("gawk -e '{ \"id\" | getline }'", "awk"),
        ("awk $P f", "awk"),
        ("sed 'e id' f", "sed"),
        ("sed -n 's/a/b/e' f", "sed"),
        ("sed --expression='1e id' f", "sed"),
        ("sed -f /dev/stdin f", "sed"),
        ("awk -f - f", "awk"),
        ("find . $X", "find"),
        ("git -c core.pager=x log", "git configuration"),
        ("git --config-env=core.pager=X log", "git configuration"),
        ("git --exec-path=. status", "git configuration"),
        ("git --frobnicate push", "unknown here"),
        ("git p", "may be an alias"),
        ("git $X", "only known at run time"),
        ("git clone -u x repo", "program named"),
        ("git fetch --upload-pack=x", "program named"),
        ("git push --receive-pack=x", "program named"),
        ("git grep -Ovim x", "program named"),
        ("git difftool -x x", "program named"),
        ("git filter-branch --tree-filter x", "program named"),
        ("xargs sh", "only known at run time"),
        ("xargs sh -c", "only known at run time"),
        ("find . -exec sh -c {} ;", "only known at run time"),
        ("env bash", "reads commands"),
        ("nice eval x", "eval"),
        ("xargs -I{} {} push", "name is only known at run time"),
    ],
)
def test_opaque(line: str, why: str) -> None:
    """Commands that evaluate text or read code from their input hide what runs."""
    reasons = [opaque(command) for command in parse(line) or []]
    assert any(why in reason for reason in reasons), reasons


@pytest.mark.parametrize(
    "line",
    [
        "echo $x",
        "ls -la",
        "git status",
        "git -C sub log",
        "python script.py",
        "python -m pytest -q",
        "python -W ignore x.py",
        "python --version",
        "python3 -V",
        "node app.js",
        "node --test",
        "node --inspect app.js",
        "deno run x.ts",
        "bun test",
        "perl x.pl",
        "ruby -w x.rb",
        "bash script.sh",
        "sh -e script.sh",
        "printf '%s' x",
        "printf -- x",
        "test -f x",
        "export A=1 B",
        "awk '{ print $1 }' f",
        "awk -F: -v x=1 '{ print $x }' f",
        "awk -f prog.awk f",
        "sed -n 1,20p f",
        "sed -i s/a/b/g f",
        "command -v git",
        "timeout 5 pytest",
        "xargs rm",
        "cd src",
        "env git commit -S -m x",
        "sudo -u me ls",
        "uv run pytest -q",
    ],
)
def test_not_opaque(line: str) -> None:
    assert [opaque(command) for command in parse(line) or [None]] == [""] * len(parse(line) or [])


@pytest.mark.parametrize(
    ("pattern", "words", "expected"),
    [
        ("git push *", ("git", "push"), "yes"),
        ("git push *", ("git", "push", None), "yes"),
        ("git push *", ("git", None), "maybe"),
        ("git push *", ("git", None, "push"), "maybe"),
        ("git push *", (None,), "maybe"),
        ("git push *", ("git", "pull"), "no"),
        ("git push *", ("git",), "no"),
        ("git push", ("git", "push", "x"), "no"),
        ("git push", ("git", "push", None), "maybe"),
        ("git push", ("git", "push"), "yes"),
        ("rm *", ("rm", None), "yes"),
        ("git push*", ("git", "push", "origin", "main"), "yes"),
        ("git push*", ("git", "push-all"), "yes"),
        ("git push*", ("git", None, "main"), "maybe"),
        ("rm*", ("rm", "-rf", "/"), "yes"),
        ("rm*", ("rmdir", "x"), "yes"),
        ("/bin/rm -r*", ("rm", "-rf", None), "yes"),
        ("rm -rf *", ("rm", None), "maybe"),
        ("/usr/bin/git push *", ("git", "push"), "yes"),
        ("'unterminated", ("git",), "no"),
        ("", ("git",), "no"),
        ("git push *", (), "no"),
    ],
)
def test_deny_match(pattern: str, words: tuple[str | None, ...], expected: str) -> None:
    assert deny_match(pattern, Reading(words)) == expected


def _previous_deny_match(pattern: str, words: tuple[str | None, ...]) -> str:
    """deny_match before a ``*`` glued to the last word covered further words: only a lone
    final ``*`` did. The reference the new reading must never fall below."""
    tokens = shlex.split(pattern)
    if tokens[0] != "*" and not any(char in tokens[0] for char in "*?["):
        tokens[0] = tokens[0].rsplit("/", 1)[-1]
    open_ended = tokens[-1] == "*"
    fixed = tokens[:-1] if open_ended else tokens
    head = words[: len(fixed)]
    if (
        len(head) == len(fixed)
        and all(w is not None and fnmatchcase(w, t) for w, t in zip(head, fixed, strict=True))
        and (open_ended or len(words) == len(fixed))
    ):
        return "yes"
    reached = {0}
    for word in words:
        after: set[int] = set()
        for token in reached:
            if word is None:
                after.update(range(token, len(fixed) + 1))
            elif token < len(fixed) and fnmatchcase(word, fixed[token]):
                after.add(token + 1)
            elif token >= len(fixed) and open_ended:
                after.add(token)
        if not after:
            return "no"
        reached = after
    return "maybe" if len(fixed) in reached else "no"


def test_deny_rules_match_at_least_as_widely_as_before() -> None:
    """A trailing ``*`` now covers the rest of the line; no deny rule may have got weaker."""
    rank = {"no": 0, "maybe": 1, "yes": 2}
    alphabet = ("git", "push", "push-x", "rm", "rmdir", "-r", "-rf", "x", None)
    patterns = (
        "git push*", "rm*", "rm -r*", "git push *", "*", "git push", "/usr/bin/rm -r*",
        "git p?sh*", "* x*",
    )  # fmt: skip
    wider = 0
    for pattern in patterns:
        for size in (1, 2, 3):
            for words in itertools.product(alphabet, repeat=size):
                before = _previous_deny_match(pattern, words)
                now = deny_match(pattern, Reading(words))
                assert rank[now] >= rank[before], (pattern, words, before, now)
                wider += rank[now] > rank[before]
    assert wider  # and some did get wider, such as rm* over rm -rf x


@pytest.mark.parametrize(
    "line",
    [
        "wc -l *.py",
        "ls src/*.py",
        "cat src/[ab].txt",
        "grep -n TODO *.md",
        "head -n 3 docs/*.md",
        "cd src",
        "cd ..",
        "echo ok > /dev/null",
        "ls src 2>&1 | head",
    ],
)
def test_read_only_audited_additions(line: str) -> None:
    commands = parse(line)
    assert commands and all(read_only(command) for command in commands)


@pytest.mark.parametrize(
    "line",
    [
        "find . *",
        "find *",
        "git diff *.py",
        "git log -- src/*",
        "sort *",
        "printf *",
        "tree *",
        "rg foo *",
        "file *",
        "rg -z needle",
        "rg -iz needle",
        "rg --search-zip needle",
        "file -z x.gz",
        "git grep --no-index foo",
        "git grep --untracked foo",
        "git -p log",
        "git --git-dir=x log",
        "git --exec-path=. status",
        "printf -v x y",
        "test -v x",
        "cd ~",
        "cd $HOME",
        "cd /root/.ssh",
        "cd .aws",
        "cd /root/.a*",
        "python",
        "python -c 'print(1)'",
        "eval ls",
        "cat < x.pem",
        "cat *.keystore",
        "cat .pgpass",
        "cd sub && git status",
        "pushd sub; git log",
    ],
)
def test_read_only_refuses_write_and_exec_options_and_globs(line: str) -> None:
    commands = parse(line)
    assert commands is not None
    assert not all(read_only(command) for command in commands)


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("pytest -q tests/", "pytest *"),
        ("pytest", "pytest *"),
        ("ls -la", "ls *"),
        ("git status -s", "git status *"),
        ("git -C x status", "git *"),
        ("git", "git *"),
        ("npm run test", "npm run *"),
        ("cargo test --release", "cargo test *"),
        ("docker compose up", "docker compose *"),
        ("uv run pytest", "uv run *"),
        ("make", "make *"),
        ("python -m pytest -q", "python -m pytest *"),
        ("python3 -m http.server", "python3 -m http.server *"),
        ("python script.py", "python *"),
        ("FOO=1 pytest", "FOO=1 pytest *"),
        ("A='x y' pytest", "'A=x y' pytest *"),
        ("'my tool' --flag", "'my tool' *"),
        ("'py*' x", "'py[*]' *"),
    ],
)
def test_suggest_pattern(line: str, pattern: str) -> None:
    command = only(line)
    assert suggest_pattern(command) == pattern
    assert matches(pattern, command)


def test_suggested_glob_characters_stay_literal() -> None:
    pattern = suggest_pattern(only("'py*' x"))
    assert not matches(pattern, only("pytest x"))


def test_suggest_pattern_without_command() -> None:
    assert suggest_pattern(only("FOO=1")) == ""


def test_suggest_pattern_skips_a_subcommand_known_only_at_run_time() -> None:
    assert suggest_pattern(only("git $X")) == "git *"
