"""Command lines split for permission rules: agent.policy.commands parse, matches, read_only."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from agent.policy.commands import (
    Redirect,
    SimpleCommand,
    is_secret_path,
    matches,
    parse,
    read_only,
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
        ("echo $ 5$ a$%", [["echo", "$", "5$", "a$%"]]),
        ("pyt\\\nest -q", [["pytest", "-q"]]),
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
        ("[ -f x ]", [["[", "-f", "x", "]"]]),
        ("test -f x[", [["test", "-f", "x["]]),
        ("[x -f y", [["[x", "-f", "y"]]),
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
        "time rm x",
        "! rm x",
        "[[ -f x ]]",
        "FOO=1 if true",
        "echo hi; fi",
        "echo $'\\x3b'",
        'echo $"hi"',
        "echo {fd}>x",
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
        ("1FOO=1", (), ("1FOO=1",)),
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
        ("cmd <<< 'some text'", Redirect("<<<", None, "some text", False), False),
        ("cmd <> file", Redirect("<>", None, "file", False), True),
        ("cmd 2> err", Redirect(">", 2, "err", False), True),
        ("cmd 2>> err", Redirect(">>", 2, "err", False), True),
        ("cmd 2>&1", Redirect(">&", 2, "1", False), False),
        ("cmd 1>&2", Redirect(">&", 1, "2", False), False),
        ("cmd >&2", Redirect(">&", None, "2", False), False),
        ("cmd 2>&-", Redirect(">&", 2, "-", False), False),
        ("cmd 3>&1-", Redirect(">&", 3, "1-", False), False),
        ("cmd >&file", Redirect(">&", None, "file", False), True),
        ("cmd >&$FD", Redirect(">&", None, "$FD", True), True),
        ("cmd 0<&3", Redirect("<&", 0, "3", False), False),
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
        "one\\\ntwo 'th\nree'",
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
        ("npm run test*", "npm run test extra", False),
        ("git status", "git status", True),
        ("git status", "git status -s", False),
        ("git status", "git", False),
        ("git *", "git push --force", True),
        ("*", "anything at all", True),
        ("npm run test*", "npm run test$X", False),
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
        "rg -z needle",
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
