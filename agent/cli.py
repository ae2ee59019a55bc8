"""The ``shipmate`` command.

Only argparse is imported up front: ``shipmate --help`` must answer in a blink, so every
sub-command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from agent import __version__

APPROVAL_CHOICES = ("read-only", "ask", "auto-edit", "full-auto")
COMMANDS = ("run", "doctor", "rules", "index", "map", "symbols")
EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shipmate",
        description="A terminal coding agent: it reads your code, edits files and runs "
        "commands to get a task done, asking before anything risky.",
        epilog="Run 'shipmate COMMAND --help' for a command's options. "
        "'shipmate -p TASK' is short for 'shipmate run TASK'.",
    )
    parser.add_argument("--version", action="version", version=f"shipmate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    run.add_argument("--max-turns", type=int, metavar="N", help="stop after N model calls")
    run.add_argument("--max-cost", type=float, metavar="USD", help="stop once the run cost USD")
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
    _add_workspace_option(run)

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
    repo_map.add_argument("--tokens", type=int, default=2048, metavar="N", help="size budget")
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
    remove.add_argument("number", type=int)
    _add_workspace_option(rules)

    doctor = commands.add_parser(
        "doctor", help="show the effective settings and what works here (keys, git, tools)"
    )
    _add_model_options(doctor)
    _add_workspace_option(doctor)
    return parser


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
    )
    return {name: getattr(args, name, None) for name in names}


def _read_task(args: argparse.Namespace) -> str | None:
    task = args.task
    if task in (None, "-") and not sys.stdin.isatty():
        task = sys.stdin.read()
    if not task or not task.strip() or task == "-":
        return None
    from tools.names import safe_text

    return safe_text(task.strip())  # an argument that is not UTF-8 must still be sendable


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
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _dispatch(parser, args)
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read our output went away (e.g. `| head`); say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception:
        log = _crash_log()
        print(
            f"shipmate: internal error: {sys.exc_info()[1]!r}. This is a bug; the details "
            f"are in {log}.",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _index_command(args: argparse.Namespace, workspace: Path) -> int:
    from agent.index import cli

    if args.command == "index":
        return cli.index_command(workspace, args.json, args.watch, args.verbose)
    if args.command == "map":
        if args.tokens < 1:
            print("shipmate: --tokens must be a positive number.", file=sys.stderr)
            return EXIT_USAGE
        return cli.map_command(workspace, args.query, args.focus, args.tokens, args.json)
    return cli.symbols_command(workspace, args.name, args.json)


def _crash_log(limit: int = 1_000_000) -> Path:
    """Write the traceback where a bug report can quote it, instead of on the terminal.

    The log is private (it may quote code and paths); past ``limit`` bytes it is moved to
    ``crash.log.1`` (replacing the one before), so it stays small. Control characters are
    shown visibly, so reading it in a terminal is safe too.
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
        fd, name = tempfile.mkstemp(prefix="shipmate-crash-", suffix=".log")
        path = Path(name)
    entry = f"shipmate {__version__} {' '.join(sys.argv)}\n{traceback.format_exc()}\n"
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(visible(entry))
    return path


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    start = Path(args.cwd) if args.cwd else Path.cwd()
    if not start.is_dir():
        print(f"shipmate: {start} is not a directory.", file=sys.stderr)
        return EXIT_USAGE
    workspace = find_workspace(start)
    from tools.executables import protect

    protect(workspace)
    if args.command in ("index", "map", "symbols"):
        return _index_command(args, workspace)
    from agent.config import ConfigError, load_settings

    try:
        settings = load_settings(workspace, _settings_flags(args))
    except ConfigError as error:
        if args.command == "run":
            from agent.headless import config_failure

            return config_failure(str(error), args.output_format, sys.stdout, sys.stderr)
        print(f"shipmate: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "doctor":
        from agent.doctor import report

        return report(settings, workspace)
    if args.command == "rules":
        from agent.policy.rules import rules_command

        return rules_command(args, workspace)
    task = _read_task(args)
    if task is None:
        parser.error("run needs a TASK (as an argument, or on stdin)")
    from agent.headless import main as run_headless

    return run_headless(task, settings, workspace, args.output_format)
