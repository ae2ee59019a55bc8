"""The ``shipmate`` command.

Only argparse is imported up front: ``shipmate --help`` must answer in a blink, so every
sub-command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from agent import __version__

if TYPE_CHECKING:
    from agent.frontends.headless import RunOptions

APPROVAL_CHOICES = ("read-only", "ask", "auto-edit", "full-auto")
COMMANDS = (
    "run",
    "watch",
    "doctor",
    "rules",
    "index",
    "map",
    "symbols",
    "sessions",
    "undo",
    "diff",
    "acp",
    "mcp",
)
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
JSON_FORMATS = ("json", "stream-json")


class UsageError(Exception):
    """A command line argparse (or Shipmate, reading its values) refused."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class Parser(argparse.ArgumentParser):
    """argparse, except that an error is raised rather than printed and exited on, so that
    ``run`` can still end a JSON output with its result object."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)

    def command(self, name: str | None) -> argparse.ArgumentParser:
        """The parser of sub-command ``name`` (this one without), for its usage line."""
        return self.commands.get(name or "", self)


def build_parser() -> Parser:
    parser = Parser(
        prog="shipmate",
        description="A terminal coding agent: it reads your code, edits files and runs "
        "commands to get a task done, asking before anything risky.",
        epilog="Without COMMAND, in a terminal: the interactive app (the options above). "
        "Run 'shipmate COMMAND --help' for a command's options. "
        "'shipmate -p TASK' is short for 'shipmate run TASK'.",
    )
    parser.add_argument("--version", action="version", version=f"shipmate {__version__}")
    parser.add_argument(
        "-C",
        "--cwd",
        dest="global_cwd",
        metavar="DIR",
        help="work in DIR (also accepted after the command)",
    )
    # With no command, the interactive app: these flags are its own.
    _add_model_options(parser)
    parser.add_argument(
        "--approval",
        choices=APPROVAL_CHOICES,
        help="the app's approval mode at start (Shift+Tab cycles it): read-only, ask "
        "(default), auto-edit, full-auto",
    )
    earlier = parser.add_mutually_exclusive_group()
    earlier.add_argument(
        "--continue",
        dest="continue_session",
        action="store_true",
        help="open the app on this workspace's newest session",
    )
    earlier.add_argument("--resume", metavar="ID", help="open the app on session ID")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = commands.choices

    run = commands.add_parser(
        "run",
        help="do one task without the TUI and print the result (for scripts and CI)",
        description="Do one task without the TUI. The final answer goes to stdout and "
        "progress to stderr; with --output-format json or stream-json stdout carries only "
        "JSON. Exit codes: 0 done, 1 failed, 2 usage or configuration error, 3 a budget "
        "ran out, 130 interrupted.",
    )
    run.add_argument("task", nargs="?", help="what to do; '-' or nothing reads it from stdin")
    run.add_argument(
        "--output-format",
        choices=("text", "json", "stream-json"),
        default="text",
        help="text (default), one JSON result object, or every event as a JSON line",
    )
    _add_model_options(run)
    run.add_argument(
        "--approval",
        choices=APPROVAL_CHOICES,
        help="what may run unattended: read-only (nothing changes), ask (default: edits and "
        "commands are refused, as nobody can approve them), auto-edit (edits allowed), "
        "full-auto (edits and commands allowed)",
    )
    run.add_argument("--max-turns", type=whole_number, metavar="N", help="stop after N model calls")
    run.add_argument("--max-cost", type=number, metavar="USD", help="stop once the run cost USD")
    run.add_argument(
        "--allow-network",
        action="store_true",
        default=None,
        help="let sandboxed commands reach the network (off by default)",
    )
    run.add_argument(
        "--dangerously-no-sandbox",
        action="store_true",
        default=None,
        help="run commands without the sandbox, as the approval mode allows",
    )
    run.add_argument(
        "--auto-test",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after a turn that changed files, run the tests and give failures the changes "
        "brought back to the model, for up to auto_test_rounds (3) fix rounds",
    )
    run.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PATTERN",
        help="for this run only, let commands matching PATTERN run without asking, as a "
        "'shipmate rules add' rule would (e.g. 'pytest *'); repeat for more",
    )
    run.add_argument(
        "--deny",
        action="append",
        default=[],
        metavar="PATTERN",
        help="for this run only, refuse commands matching PATTERN, whatever the approval "
        "mode (e.g. 'git push *'); repeat for more",
    )
    run.add_argument(
        "--auto-commit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="commit the agent's changes at the end of the task, with a message the model "
        "writes (off by default in run)",
    )
    run.add_argument(
        "--branch",
        metavar="NAME",
        help="start the work on a new git branch NAME (refused mid-merge or mid-rebase)",
    )
    run.add_argument(
        "--append-system-prompt",
        metavar="TEXT",
        help="instructions added after the system prompt; @PATH reads them from a file",
    )
    earlier = run.add_mutually_exclusive_group()
    earlier.add_argument(
        "--continue",
        dest="continue_session",
        action="store_true",
        help="go on with this workspace's newest session: the model sees the whole earlier "
        "conversation",
    )
    earlier.add_argument(
        "--resume",
        metavar="ID",
        help="go on with session ID of this workspace (a unique start of the id is enough; "
        "'shipmate sessions' lists them)",
    )
    run.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress on stderr (errors are still reported): only the answer, or only JSON",
    )
    run.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show the raw model API error under each retry and error (stderr)",
    )
    _add_workspace_option(run)

    watch = commands.add_parser(
        "watch",
        help="beside your editor: act on the AI comments you save (… AI! to change, … AI? "
        "to ask) and keep the code index current",
        description="Watch the workspace. A comment ending in 'AI!' that you save asks for a "
        "change, one ending in 'AI?' asks a question; the comments saved together are one "
        "request, in one session across requests. The agent removes the AI! comments it "
        "acted on and prints its answers, diffs and cost; approvals are asked here (y/n/a). "
        "Ctrl-C stops; the session is kept.",
    )
    _add_model_options(watch)
    watch.add_argument(
        "--approval",
        choices=APPROVAL_CHOICES,
        help="what runs without asking: auto-edit (the default, unless your settings name "
        "one: edits without asking, commands asked here), read-only, ask, full-auto",
    )
    earlier = watch.add_mutually_exclusive_group()
    earlier.add_argument(
        "--continue",
        dest="continue_session",
        action="store_true",
        help="go on with this workspace's newest session",
    )
    earlier.add_argument("--resume", metavar="ID", help="go on with session ID")
    _add_workspace_option(watch)

    index = commands.add_parser(
        "index", help="build or refresh the code index of this repository and show its size"
    )
    index.add_argument("--json", action="store_true", help="print the figures as JSON")
    index.add_argument(
        "--watch", action="store_true", help="then keep it current as files change (Ctrl-C stops)"
    )
    index.add_argument(
        "--verbose", "-v", action="store_true", help="list the files it skipped, and why"
    )
    _add_workspace_option(index)

    repo_map = commands.add_parser(
        "map", help="print the repo map: the files most relevant to a request, with signatures"
    )
    repo_map.add_argument("--query", "-q", default="", metavar="TEXT", help="what you want to do")
    repo_map.add_argument(
        "--focus",
        action="append",
        default=[],
        metavar="PATH",
        help="a file you are working on (repeat for more)",
    )
    repo_map.add_argument(
        "--tokens", type=whole_number, default=2048, metavar="N", help="size budget"
    )
    repo_map.add_argument(
        "--json",
        action="store_true",
        help='print {"files": [{"path", "score"}, ...] (the whole ranking), "map", "tokens", '
        '"seconds"}',
    )
    _add_workspace_option(repo_map)

    symbols = commands.add_parser("symbols", help="where a name is defined and used")
    symbols.add_argument("name")
    symbols.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_workspace_option(symbols)

    rules = commands.add_parser(
        "rules",
        help="list, add or remove this project's permission rules",
        description="Rules say what runs without asking (allow) or never runs (deny) in this "
        "project. A command rule matches the command's words: 'pytest *' allows pytest with "
        "any arguments, and every command of a compound line must be allowed. Edit and read "
        "rules match paths with globs ('src/**'). Rules live in your config folder, not in "
        "the repository.",
    )
    actions = rules.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="show the rules (the default)")
    add = actions.add_parser("add", help="add a rule")
    add.add_argument("pattern", help="e.g. 'pytest *', 'npm run test*', 'src/**'")
    add.add_argument("--deny", action="store_true", help="never run it (default: allow)")
    target = add.add_mutually_exclusive_group()
    target.add_argument("--edit", action="store_true", help="the pattern is a path to edit")
    target.add_argument("--read", action="store_true", help="the pattern is a secret file to read")
    remove = actions.add_parser("remove", help="remove a rule by its number in the list")
    remove.add_argument("number", type=whole_number)
    _add_workspace_option(rules)

    sessions = commands.add_parser(
        "sessions",
        help="list this workspace's stored sessions, newest first, or show one",
        description="Every run is a session. Without ACTION: this workspace's sessions, "
        "newest first (id, when, status, model calls, cost, files changed, the first "
        "request). 'shipmate run --continue' or '--resume ID' goes on with one.",
    )
    sessions.add_argument("--json", action="store_true", help="print them as JSON")
    sessions.add_argument("--all", action="store_true", help="every workspace's sessions")
    _add_workspace_option(sessions)
    session_actions = sessions.add_subparsers(dest="action", metavar="ACTION")
    show = session_actions.add_parser(
        "show", help="a session's transcript: requests, answers, one line per tool call"
    )
    show.add_argument("id", help="the session's id, or a unique start of it")
    show.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,  # else it would undo 'sessions --json show ID'
        help="print the session and its stored events as JSON",
    )
    show.add_argument(
        "-C", "--cwd", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )

    undo = commands.add_parser(
        "undo",
        help="undo the agent's last turn in this workspace (again: the turn before)",
        description="Restore the files the agent's last turn changed, as they were before it "
        "(your own uncommitted changes included). Refused, naming the files, when one was "
        "changed since the agent's edit; a file you created is never deleted. An agent "
        "commit that is the tip and not pushed is undone by moving HEAD back (soft reset); "
        "any other by a new revert commit.",
    )
    undo.add_argument("--session", metavar="ID", help="that session (default: the newest here)")
    undo.add_argument(
        "--force", action="store_true", help="restore even files changed since the agent's edit"
    )
    _add_workspace_option(undo)
    diff = commands.add_parser(
        "diff", help="show what the agent changed in this workspace's session (unified diff)"
    )
    diff.add_argument("--session", metavar="ID", help="that session (default: the newest here)")
    _add_workspace_option(diff)

    acp = commands.add_parser(
        "acp",
        help="serve editors that speak the Agent Client Protocol (Zed, Neovim, …) over stdio",
        description="Run as an Agent Client Protocol agent: the editor starts this command "
        "and talks to it over stdin and stdout (which carry nothing else; logs go to "
        "stderr). Each session works in the folder the editor gives (its git root).",
    )
    _add_model_options(acp)
    acp.add_argument(
        "--approval",
        choices=APPROVAL_CHOICES,
        help="the mode sessions start in (the editor can switch it): read-only, ask "
        "(default), auto-edit, full-auto",
    )

    _add_mcp_parser(commands)

    doctor = commands.add_parser(
        "doctor", help="show the effective settings and what works here (keys, git, tools)"
    )
    _add_model_options(doctor)
    _add_workspace_option(doctor)
    return parser


def _add_mcp_parser(commands: Any) -> None:
    mcp = commands.add_parser(
        "mcp",
        help="list, add, remove, test and trust MCP servers (tools from outside Shipmate)",
        description="MCP servers give the model tools of your own (an issue tracker, a "
        "database, docs). Yours live in your config file; a repository's (.shipmate.toml, "
        ".mcp.json) start only once you trust them.",
    )
    _add_workspace_option(mcp)
    actions = mcp.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="your servers and this repository's (the default)")
    add = actions.add_parser(
        "add",
        help="add a server to your config: NAME -- COMMAND ARGS…, or NAME --url URL",
        description="Add a server to your config file (comments and other settings are "
        "kept). A command runs as you, outside the sandbox, with only the environment its "
        "--env names (values may say ${VARIABLE}). Example: shipmate mcp add github --env "
        "'GITHUB_TOKEN=${GITHUB_TOKEN}' -- npx -y @modelcontextprotocol/server-github",
    )
    add.add_argument("name", help="letters, digits, - and _; its tools are mcp__NAME__TOOL")
    add.add_argument(
        "command_line", nargs="*", metavar="-- COMMAND ARGS", help="the program to run"
    )
    add.add_argument("--url", help="the server's URL (streamable HTTP, or SSE)")
    add.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="an HTTP header for a --url server (repeat for more)",
    )
    add.add_argument(
        "--transport", choices=("http", "sse"), help="for --url: http (default) or sse"
    )
    add.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the command (repeat for more)",
    )
    add.add_argument(
        "--timeout", type=number, metavar="SECONDS", help="how long a tool call may take (60)"
    )
    add.add_argument(
        "--approval",
        dest="server_approval",
        choices=("default", "ask", "allow"),
        default="default",
        help="default: read-only tools run unasked, the rest ask; ask: every tool asks; "
        "allow: every tool runs unasked but the destructive ones",
    )
    add.add_argument(
        "--tool",
        action="append",
        default=[],
        metavar="NAME",
        help="offer only this tool of the server (repeat for more; default: all)",
    )
    add.add_argument("--disabled", action="store_true", help="add it without starting it")
    add.add_argument("--replace", action="store_true", help="replace a server of that name")
    remove = actions.add_parser("remove", help="remove a server from your config")
    remove.add_argument("name")
    test = actions.add_parser(
        "test",
        help="start a server as a session would, list its tools, prompts and resources, and "
        "stop it",
    )
    test.add_argument("name")
    trust = actions.add_parser(
        "trust", help="let this repository's server NAME start (it shows what would run)"
    )
    trust.add_argument("name")
    trust.add_argument("--yes", "-y", action="store_true", help="do not ask")
    untrust = actions.add_parser("untrust", help="stop trusting this repository's server NAME")
    untrust.add_argument("name")
    for parser in (listing, add, remove, test, trust, untrust):
        parser.add_argument(
            "-C", "--cwd", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def whole_number(text: str) -> int:
    """An argparse type whose error reads as a sentence, not as Python's."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text}") from None


def number(text: str) -> float:
    """Likewise, for a decimal number."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text}") from None


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", "-m", help="any litellm model string, e.g. anthropic/claude-sonnet-4-5"
    )
    parser.add_argument(
        "--api-base",
        metavar="URL",
        help="an OpenAI-compatible server (Ollama, llama.cpp, vLLM, LM Studio), e.g. "
        "http://localhost:11434/v1",
    )


def _add_workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-C",
        "--cwd",
        metavar="DIR",
        help="work in DIR instead of the current directory (its git root, if any)",
    )


def expand_print_alias(argv: list[str]) -> list[str]:
    """``shipmate [options] -p TASK [options]`` means ``shipmate run [options] TASK``."""
    if argv and argv[0] in COMMANDS:
        return argv
    for flag in ("-p", "--print"):
        if flag in argv:
            rest = list(argv)
            rest.remove(flag)
            return ["run", *rest]
    return argv


def find_workspace(start: Path) -> Path:
    """The git work tree containing ``start``, or ``start`` itself outside git."""
    from agent.vcs import git

    repository = git.repository(start)
    return repository.root if repository is not None else start.resolve()


def _settings_flags(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "model",
        "api_base",
        "approval",
        "max_turns",
        "max_cost",
        "allow_network",
        "dangerously_no_sandbox",
        "auto_commit",
        "branch",
        "auto_test",
    )
    return {name: getattr(args, name, None) for name in names}


def requested_output(argv: list[str]) -> str:
    """The --output-format a command line asks for, read without argparse: the line may be
    one argparse refused, and a program reading JSON must still get its result object."""
    output = "text"
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        name, equals, value = arg.partition("=")
        if len(name) > 2 and "--output-format".startswith(name):  # argparse takes prefixes
            output = value if equals else " ".join(argv[index + 1 : index + 2])
    return output


def _read_task(args: argparse.Namespace) -> str | None:
    task = args.task
    if task in (None, "-") and not sys.stdin.isatty():
        task = sys.stdin.read()
    if not task or not task.strip() or task == "-":
        return None
    from tools.names import safe_text

    return safe_text(task.strip())  # an argument that is not UTF-8 must still be sendable


def entry() -> None:
    """The installed ``shipmate`` command: exit the moment the work is done.

    Tearing down an interpreter that imported litellm takes seconds (its module graph and
    clients), after the result was already shown; nothing left then needs a goodbye. Output
    is flushed and files Shipmate writes are closed by then, so the process just ends.
    """
    try:
        code = main()
    except SystemExit as done:  # argparse's usage errors, --help, --version
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging = sys.modules.get("logging")  # not imported: nothing logged (a warm map)
    if logging is not None:
        logging.shutdown()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    from agent import keys
    from agent.terminal import guard_stdio

    keys.capture()  # before anything starts a process that could inherit them
    # A Python Shipmate starts (an index worker) must not import modules from the workspace.
    os.environ["PYTHONSAFEPATH"] = "1"
    # Everything printed from here on (model text, paths, source lines, argparse's own
    # errors) reaches the terminal with its control characters shown, never acted on.
    guard_stdio()
    argv = expand_print_alias(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    try:
        args, extras = _parsed(parser, argv)
        if extras:  # said by the sub-command, with its own usage line
            parser.command(args.command).error(f"unrecognized arguments: {' '.join(extras)}")
        if args.command is None:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                parser.print_help()  # a script or a pipe: no app to hang on
                return 0
            return _app(parser, args)
        if args.command in ("run", "watch", "acp"):
            _start_loading_litellm(args.model)
        return _dispatch(parser, args)
    except UsageError as error:
        return _usage_failure(error, argv)
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read our output went away (e.g. `| head`); say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as error:
        log = _crash_log()
        where = f"the details are in {log}" if log else "the details could not be saved"
        print(
            f"shipmate: internal error ({type(error).__name__}: {error}). This is a bug; {where}.",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _parsed(parser: Parser, argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The command line read; in ``mcp add NAME … -- COMMAND ARGS…`` what follows ``--`` is
    the server's command line, whose options argparse would otherwise take for ours."""
    if "--" in argv:
        at = argv.index("--")
        with contextlib.suppress(UsageError):
            args, extras = parser.parse_known_args(argv[:at])
            if args.command == "mcp" and args.action == "add":
                args.command_line += argv[at + 1 :]
                return args, extras
    return parser.parse_known_args(argv)


def _start_loading_litellm(model: str | None) -> None:
    """Import litellm (seconds) in the background while settings, the sandbox probe and the
    index are opened; the first model call then finds it ready, or waits for the rest.
    ``doctor`` does not: it checks the model first thing, and needs no litellm at all when
    no model is set.

    A mock completion (``mock_response``: nothing is sent anywhere) then loads what litellm
    imports on its first call, the tokenizer and cost tables included (~0.7 s here).
    """
    import threading

    from agent.llm import litellm

    def load() -> None:
        with contextlib.suppress(Exception):  # the model call imports it again and reports
            litellm().completion(
                model=model or "openai/gpt-4o-mini",
                messages=[{"role": "user", "content": "warm-up"}],
                mock_response="ok",
                api_key="mock",
            )

    threading.Thread(target=load, name="import litellm", daemon=True).start()


def _usage_failure(error: UsageError, argv: list[str]) -> int:
    """argparse's report on stderr (the usage line of the command at fault, then the error);
    for ``run`` with a JSON output, its result object on stdout too."""
    error.parser.print_usage(sys.stderr)
    print(f"{error.parser.prog}: error: {error.message}", file=sys.stderr)
    output = requested_output(argv)
    if argv[:1] == ["run"] and output in JSON_FORMATS:
        from agent.frontends.headless import failure_result

        failure_result(error.message, output, sys.stdout)
    return EXIT_USAGE


def _index_command(parser: Parser, args: argparse.Namespace, workspace: Path) -> int:
    from agent.index import cli

    if args.command == "index":
        return cli.index_command(workspace, args.json, args.watch, args.verbose)
    if args.command == "map":
        if args.tokens < 1:
            parser.command("map").error(f"--tokens must be a positive number (got {args.tokens})")
        return cli.map_command(workspace, args.query, args.focus, args.tokens, args.json)
    return cli.symbols_command(workspace, args.name, args.json)


def _crash_log(limit: int = 1_000_000) -> Path | None:
    """Write the traceback where a bug report can quote it, instead of on the terminal.

    The log is private (it may quote code and paths); past ``limit`` bytes it is moved to
    ``crash.log.1`` (replacing the one before), so it stays small. Control characters are
    shown visibly, so reading it in a terminal is safe too. A read-only home falls back to
    the temp folder; None when no disk takes it.
    """
    import tempfile
    import traceback

    from agent.config import data_dir
    from agent.storage import private_dir, private_file, tighten
    from agent.terminal import visible

    try:
        path = private_dir(data_dir() / "logs") / "crash.log"
        tighten(path)  # one an older version left readable, before it is kept as crash.log.1
        if path.is_file() and path.stat().st_size > limit:
            path.replace(path.with_name("crash.log.1"))
        fd = private_file(path)
    except OSError:
        try:
            fd, name = tempfile.mkstemp(prefix="shipmate-crash-", suffix=".log")
        except OSError:
            return None
        path = Path(name)
    entry = f"shipmate {__version__} {' '.join(sys.argv)}\n{traceback.format_exc()}\n"
    try:
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(visible(entry))
    except OSError:  # a full disk
        return None
    return path


def _app(parser: Parser, args: argparse.Namespace) -> int:
    """``shipmate`` in a terminal: the interactive app on this workspace."""
    folder = args.global_cwd
    start = Path(folder) if folder else Path.cwd()
    if not start.is_dir():
        parser.error(f"-C {folder}: there is no such directory")
    if args.resume is not None and not args.resume.strip():
        parser.error("--resume needs a session id ('shipmate sessions' lists them)")
    workspace = find_workspace(start)
    from tools.executables import protect

    protect(workspace)
    from agent.tui.app import Launch, run_app

    # The settings are read by the app after its first frame (pydantic alone costs ~0.1 s).
    flags = {name: value for name, value in _settings_flags(args).items() if value is not None}
    launch = Launch(
        workspace=workspace,
        flags=flags,
        continue_session=args.continue_session,
        resume=args.resume.strip() if args.resume else None,
    )
    return run_app(launch)


def _dispatch(parser: Parser, args: argparse.Namespace) -> int:
    command = parser.command(args.command)
    # `shipmate -C DIR index` or `shipmate index -C DIR` (acp has no -C: the editor says)
    folder = getattr(args, "cwd", None) or args.global_cwd
    start = Path(folder) if folder else Path.cwd()
    if not start.is_dir():
        command.error(f"-C {folder}: there is no such directory")
    workspace = find_workspace(start)
    from tools.executables import protect

    protect(workspace)
    if args.command in ("index", "map", "symbols"):
        return _index_command(parser, args, workspace)
    if args.command == "sessions":
        from agent.frontends.sessions import sessions_command

        show = args.id if args.action == "show" else None
        if show is not None and not show.strip():
            command.error("show needs a session id ('shipmate sessions' lists them)")
        return sessions_command(workspace, show=show, as_json=args.json, every=args.all)
    if args.command in ("undo", "diff"):
        from agent.frontends.changes import diff_command, undo_command

        if args.command == "diff":
            return diff_command(workspace, args.session)
        return undo_command(workspace, args.session, args.force)
    if args.command == "mcp":
        from agent.mcp.commands import mcp_command

        return mcp_command(args, workspace)
    from agent.config import ConfigError, check_flags, load_settings

    try:
        check_flags(_settings_flags(args))
    except ConfigError as error:
        command.error(str(error))
    if args.command == "acp":  # each session reads the settings of its own workspace
        from agent.frontends.acp.server import main as serve_editor

        return serve_editor(_settings_flags(args))
    try:
        settings = load_settings(workspace, _settings_flags(args))
    except ConfigError as error:
        if args.command == "run":
            from agent.frontends.headless import config_failure

            return config_failure(str(error), args.output_format, sys.stdout, sys.stderr)
        print(f"shipmate: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "doctor":
        from agent.doctor import report

        return report(settings, workspace)
    if args.command == "rules":
        from agent.policy.rules import rules_command

        return rules_command(args, workspace)
    if args.command == "watch":
        return _watch(command, args, settings, workspace)
    options = run_options(command, args)
    settings.notices.extend(options.warnings)  # shown with the session's first notices
    task = _read_task(args)
    if task is None:
        command.error("run needs a TASK (as an argument, or on stdin)")
    from agent.frontends.headless import main as run_headless

    return run_headless(task, settings, workspace, options)


def _watch(
    command: argparse.ArgumentParser, args: argparse.Namespace, settings: Any, workspace: Path
) -> int:
    """``shipmate watch``: auto-edit unless the flag or the settings choose a mode."""
    from agent.frontends.watch import main as run_watch

    if args.resume is not None and not args.resume.strip():
        command.error("--resume needs a session id ('shipmate sessions' lists them)")
    if args.approval is None and "approval" not in settings.model_fields_set:
        settings = settings.model_copy(update={"approval": "auto-edit"})
    resume = args.resume.strip() if args.resume else None
    return run_watch(settings, workspace, args.continue_session, resume)


def run_options(command: argparse.ArgumentParser, args: argparse.Namespace) -> RunOptions:
    """``run``'s own flags, checked; a bad one is a usage error."""
    from agent.frontends.headless import RunOptions
    from agent.policy.rules import Rule, rule_problem, rule_warning
    from tools.names import safe_text

    warnings = []
    for flag, patterns in (("--allow", args.allow), ("--deny", args.deny)):
        if any(not pattern.strip() for pattern in patterns):
            command.error(f"{flag} needs a pattern, e.g. {flag} 'pytest *'")
        for pattern in patterns:  # the checks of `shipmate rules add`, for one run
            action = "allow" if flag == "--allow" else "deny"
            rule = Rule(action=action, tool="command", pattern=pattern.strip())
            if problem := rule_problem(rule, Path.cwd()):
                command.error(f"{flag} {pattern}: {problem}")
            if warning := rule_warning(rule):
                warnings.append(f"{flag} {warning}")
    if args.resume is not None and not args.resume.strip():
        command.error("--resume needs a session id ('shipmate sessions' lists them)")
    appended = args.append_system_prompt or ""
    if appended.startswith("@"):
        path = Path(appended[1:]).expanduser()
        try:
            appended = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            command.error(f"--append-system-prompt {appended}: {error.strerror or error}")
    return RunOptions(
        output=args.output_format,
        quiet=args.quiet,
        verbose=args.verbose,
        appended_prompt=safe_text(appended),
        allow=[pattern.strip() for pattern in args.allow],
        deny=[pattern.strip() for pattern in args.deny],
        warnings=warnings,
        continue_session=args.continue_session,
        resume=args.resume.strip() if args.resume else None,
    )
