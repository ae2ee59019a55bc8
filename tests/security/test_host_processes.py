"""Shipmate's own processes (git, bash, rg, bwrap) run outside the sandbox, as the user: nothing
the workspace can write may steer them, and none of them inherits the model's API key.

Each attack plants a program that would create a marker file outside the workspace, proves
with plain git (the control) that the plant works, then drives Shipmate the ways a user does
(the file tools and commands a model calls, ``shipmate index``, ``map``, ``run``) and checks
the marker never appears.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from security_helpers import Guard, Site, sh

from agent.vcs import git as vcs
from tools import executables
from tools.base import ToolContext
from tools.files import ListFiles, WriteFile
from tools.listing import dirty_files, workspace_files
from tools.search import Grep

from helpers import git, run_cli
from scripted_llm import Reply, ScriptedLLM, tool


def marker(site: Site) -> Path:
    return site.root / "PWNED"


def plant_command(site: Site) -> str:
    """A shell command that leaves the marker (and what it could see of the environment)."""
    return f"env > {marker(site)}; echo"


def plain_git(repo: Path, *args: str) -> None:
    """The control: git as a user runs it, obeying the repository's config."""
    subprocess.run(["git", *args], cwd=repo, capture_output=True, timeout=30)


async def plant_bare_repository(ctx: ToolContext, site: Site) -> None:
    """What a prompt-injected model can do with write_file alone in a non-git workspace."""
    config = (
        '[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = "."\n'
        f'\tfsmonitor = "{plant_command(site)}"\n'
    )
    for path, content in (
        ("HEAD", "ref: refs/heads/main\n"),
        ("config", config),
        ("objects/info/keep", ""),
        ("refs/heads/keep", ""),
    ):
        await WriteFile(path=path, content=content).run(ctx)


def drive_shipmate(ws: Path, llm: ScriptedLLM) -> None:
    """Everything that runs git: the index, the map, a read-only run."""
    env = {"GIT_CEILING_DIRECTORIES": str(ws.parent)}
    for args in (("index",), ("map", "--query", "config"), ("doctor",)):
        done = run_cli(*args, cwd=ws, env=env)
        assert "Traceback" not in done.stderr
    llm.add(Reply(calls=[tool("list_files"), tool("grep", pattern="x")]), Reply(text="done"))
    done = run_cli(
        "run", "--model", "scripted", "--api-base", llm.url, "--approval", "read-only", "look",
        cwd=ws, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


async def test_attack_planted_bare_repository(
    box: ToolContext, site: Site, llm: ScriptedLLM, watch: Callable[..., Guard]
) -> None:
    """write_file makes the non-git workspace look like a bare repository with fsmonitor set."""
    await plant_bare_repository(box, site)
    plain_git(site.ws, "status")
    assert marker(site).exists(), "control: plain git obeys the planted repository"
    marker(site).unlink()
    guard = watch()

    vcs.forget()
    assert vcs.repository(site.ws) is None
    assert "config" in workspace_files(site.ws) and dirty_files(site.ws) == set()
    await ListFiles().run(box)
    await Grep(pattern="fsmonitor").run(box)
    drive_shipmate(site.ws, llm)
    assert not marker(site).exists()
    guard.check()


async def test_attack_git_init_in_the_sandbox_of_a_non_git_workspace(
    box: ToolContext, site: Site, llm: ScriptedLLM, watch: Callable[..., Guard]
) -> None:
    """A sandboxed command turns the workspace into a repository whose config runs programs:
    fsmonitor, a clean filter for every file, a pager, an external diff, hooks."""
    (site.ws / "a.txt").write_text("one\n")
    vcs.forget()
    assert vcs.repository(site.ws) is None  # Shipmate looked first, in this session
    setup = (
        "git init -q && git add a.txt && git -c user.name=a -c user.email=b commit -qm x && "
        f"git config core.fsmonitor '{plant_command(site)}' && "
        f"git config filter.evil.clean '{plant_command(site)} ; cat' && "
        f"git config core.pager '{plant_command(site)} ; cat' && "
        f"git config diff.external '{plant_command(site)}' && "
        "printf '* filter=evil\\n' > .gitattributes && mkdir -p .git/hooks && "
        f"printf '#!/bin/sh\\n{plant_command(site)}\\n' > .git/hooks/post-index-change && "
        "chmod +x .git/hooks/post-index-change && echo two > a.txt"
    )
    result = await sh(box, setup)
    assert not result.is_error, result.output
    guard = watch()

    # This session keeps treating the workspace as what it was: no repository.
    assert vcs.repository(site.ws) is None
    assert dirty_files(site.ws) == set()
    # A later session finds a repository, and must still not obey its config.
    vcs.forget()
    repository = vcs.repository(site.ws)
    assert repository is not None
    assert "a.txt" in repository.dirty()
    assert "a.txt" in workspace_files(site.ws)
    repository.run("diff")
    repository.run("log", "-p")
    drive_shipmate(site.ws, llm)
    assert not marker(site).exists()
    guard.check()

    plain_git(site.ws, "status")
    assert marker(site).exists(), "control: plain git obeys the planted config"


async def test_attack_nested_repository_under_a_gitlink(
    box: ToolContext, site: Site, llm: ScriptedLLM, watch: Callable[..., Guard]
) -> None:
    """A committed submodule entry: git status recurses into the nested repository, whose
    config the sandbox can write (only the top .git is read-only)."""
    ws = site.ws
    git(ws, "init", "-q", "-b", "main")
    git(ws, "init", "-q", "-b", "main", "sub")
    (ws / "sub" / "f.txt").write_text("x\n")
    git(ws / "sub", "add", "f.txt")
    git(ws / "sub", "commit", "-qm", "sub")
    git(ws, "add", "sub")
    git(ws, "commit", "-qm", "top with a gitlink")
    vcs.forget()
    result = await sh(
        box,
        f"git -C sub config core.fsmonitor '{plant_command(site)}' && "
        f"git -C sub config filter.evil.clean '{plant_command(site)}; cat' && "
        "printf '* filter=evil\\n' > sub/.gitattributes && echo y >> sub/f.txt",
    )
    assert not result.is_error, result.output
    guard = watch()

    assert dirty_files(ws) <= {"sub", "sub/.gitattributes"}
    workspace_files(ws)
    drive_shipmate(ws, llm)
    assert not marker(site).exists()
    guard.check()

    plain_git(ws, "status")
    assert marker(site).exists(), "control: plain git recurses into the nested repository"


@pytest.mark.parametrize("program", ["git", "bash", "rg", "bwrap"])
async def test_attack_program_planted_on_path(
    box: ToolContext,
    site: Site,
    program: str,
    monkeypatch: pytest.MonkeyPatch,
    watch: Callable[..., Guard],
) -> None:
    """An activated .venv/bin inside the workspace is first on PATH; a sandboxed command
    plants git, bash, rg or bwrap there, for Shipmate to run outside the sandbox."""
    ws = site.ws
    git(ws, "init", "-q", "-b", "main")
    (ws / "a.txt").write_text("a\n")
    bin_dir = ws / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VIRTUAL_ENV", str(ws / ".venv"))
    executables.find.cache_clear()
    vcs.forget()
    plant = f"printf '#!/bin/sh\\n{plant_command(site)}\\nexit 0\\n' > .venv/bin/{program}"
    result = await sh(box, f"{plant} && chmod +x .venv/bin/{program}")
    assert not result.is_error, result.output
    planted = bin_dir / program
    assert planted.stat().st_mode & stat.S_IXUSR
    guard = watch()

    assert executables.find(program) != str(planted)
    found = executables.find(program)
    assert found is None or not Path(found).is_relative_to(ws)
    assert str(bin_dir) not in executables.trusted_path().split(os.pathsep)
    dirty_files(ws)
    await Grep(pattern="a").run(box)
    done = await sh(box, "echo still works")
    assert "still works" in done.output
    assert not marker(site).exists()
    guard.check()


# The command's own environment, and its parent's (Shipmate) as /proc shows it to the user.
DUMP_ENVIRONMENT = "env > env.txt; cat /proc/$PPID/environ > p.txt"


def test_api_key_reaches_no_child_process(tmp_path: Path, llm: ScriptedLLM) -> None:
    """The key is given to the model API, and to nothing else: not a command running outside
    the sandbox (--dangerously-no-sandbox), not git, not a hook."""
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    secret = "sk-live-7f3a9c0ffee"
    llm.add(
        Reply(calls=[tool("run_command", command=DUMP_ENVIRONMENT)]),
        Reply(text="done"),
    )
    done = run_cli(
        "run", "--model", "scripted", "--api-base", llm.url, "--approval", "full-auto",
        "--dangerously-no-sandbox", "dump the environment",
        cwd=ws, env={"OPENAI_API_KEY": secret, "ANTHROPIC_API_KEY": "sk-ant-other"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert llm.headers[0]["authorization"] == f"Bearer {secret}"
    inherited = (ws / "env.txt").read_text()
    dumped = inherited + (ws / "p.txt").read_bytes().decode(errors="replace")
    assert "PATH=" in inherited  # the command did run and dump its environment
    assert "OPENAI_API_KEY" not in inherited and "ANTHROPIC_API_KEY" not in inherited
    # Shipmate's own start-up environment is overwritten where it held the values.
    assert secret not in dumped and "sk-ant-other" not in dumped
    assert secret not in done.stdout + done.stderr


def partial_clone(repo: Path, site: Site) -> None:
    """A partial clone whose promisor remote is an ``ext::`` command, with a staged rename
    whose old content is missing: rename detection in ``git status`` fetches it lazily."""
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("hello\n" * 20)
    git(repo, "add", "a.txt")
    git(repo, "commit", "-qm", "one")
    for key, value in (
        ("core.repositoryformatversion", "1"),
        ("extensions.partialClone", "origin"),
        ("remote.origin.promisor", "true"),
        ("remote.origin.url", f"ext::sh -c touch% {marker(site)}"),
        ("protocol.ext.allow", "always"),
    ):
        git(repo, "config", key, value)
    blob = git(repo, "rev-parse", "HEAD:a.txt").strip()
    git(repo, "mv", "a.txt", "b.txt")
    with (repo / "b.txt").open("a") as handle:
        handle.write("more\n")
    git(repo, "add", "b.txt")
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()


def test_attack_partial_clone_fetches_through_a_command(
    site: Site, llm: ScriptedLLM, watch: Callable[..., Guard]
) -> None:
    """A repository (shipped, or built by a command in an earlier session) makes git's lazy
    fetch run an ``ext::`` transport, which its own config allows."""
    partial_clone(site.ws, site)
    plain_git(site.ws, "status")
    assert marker(site).exists(), "control: plain git fetches through the command"
    marker(site).unlink()
    guard = watch()
    vcs.forget()
    repository = vcs.repository(site.ws)
    assert repository is not None
    repository.dirty()
    repository.files()
    repository.run("diff", "--cached", "-M")
    repository.run("log", "-p", "-M", "--stat")
    drive_shipmate(site.ws, llm)
    assert not marker(site).exists()
    guard.check()


@pytest.mark.parametrize("driver", ["x=y", "a.b", "x=y.clean", ""])
def test_attack_filter_driver_name_the_override_cannot_spell(
    driver: str, site: Site, watch: Callable[..., Guard]
) -> None:
    """A clean filter whose name ``-c`` would misread (``-c filter.x=y.clean=`` sets
    ``filter.x``), or whose name is empty (``[filter ""]``, chosen by ``filter=``)."""
    ws = site.ws
    git(ws, "init", "-q", "-b", "main")
    (ws / "a.txt").write_text("one\n")
    git(ws, "add", "a.txt")
    git(ws, "commit", "-qm", "one")
    with (ws / ".git" / "config").open("a") as handle:  # [filter ""] for the empty name
        handle.write(f'[filter "{driver}"]\n\tclean = "{plant_command(site)}; cat"\n')
    (ws / ".gitattributes").write_text(f"a.txt filter={driver}\n")
    (ws / "a.txt").write_text("two\n")  # the same size: git must read it, through the filter
    os.utime(ws / "a.txt", (2_000_000_000, 2_000_000_000))
    plain_git(ws, "status")
    assert marker(site).exists(), "control: plain git runs the filter"
    marker(site).unlink()
    guard = watch()
    vcs.forget()
    repository = vcs.repository(ws)
    assert repository is not None and "a.txt" in repository.dirty()
    assert not marker(site).exists()
    guard.check()


async def test_attack_filter_added_later_through_an_include(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """The repository's config includes a file of the work tree (teams share config this
    way); after Shipmate's first git call, a sandboxed command adds a filter there."""
    ws = site.ws
    git(ws, "init", "-q", "-b", "main")
    (ws / "a.txt").write_text("one\n")
    (ws / "team.gitconfig").write_text("[core]\n\tautocrlf = false\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "one")
    git(ws, "config", "include.path", "../team.gitconfig")
    vcs.forget()
    repository = vcs.repository(ws)
    assert repository is not None
    repository.dirty()
    filter_config = f'[filter "t"]\n\tclean = {plant_command(site)}; cat\n'
    result = await sh(
        box,
        f"printf '{filter_config}' >> team.gitconfig && printf 'a.txt filter=t\\n' > "
        ".gitattributes && echo two > a.txt",
    )
    assert not result.is_error, result.output
    guard = watch()
    assert "a.txt" in repository.dirty()
    assert not marker(site).exists()
    guard.check()


async def test_attack_git_file_names_a_repository_in_the_home(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """A command writes ``.git`` as a file naming the user's dotfiles repository in the hidden
    home; the next session must neither treat it as the workspace's repository nor bind it
    into the sandbox."""
    dotfiles = site.home / ".cfg"
    git(site.home, "init", "-q", "--bare", str(dotfiles))
    (site.home / ".npmrc").write_text("//registry.npmjs.org/:_authToken=npm_DOTFILES_TOKEN\n")
    subprocess.run(
        ["git", f"--git-dir={dotfiles}", f"--work-tree={site.home}", "add", ".npmrc"],
        check=True,
        capture_output=True,
    )
    result = await sh(box, f"echo 'gitdir: {dotfiles}' > .git")
    assert not result.is_error, result.output
    vcs.forget()
    assert vcs.repository(site.ws) is None
    guard = watch()
    result = await sh(box, "git show :.npmrc; git --no-pager log; cat ~/.cfg/config")
    assert "npm_DOTFILES_TOKEN" not in result.output
    guard.check()


@pytest.mark.parametrize(
    ("model", "variables", "arguments"),
    [
        (
            "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
            {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "aws-secret-7f3a"},
            {"aws_access_key_id", "aws_secret_access_key"},
        ),
        ("azure/gpt-4o", {"AZURE_AD_TOKEN": "azure-ad-7f3a", "AZURE_API_KEY": "az-7f3a"}, set()),
        ("openai/gpt-5", {"OPENAI_API_KEY": "sk-7f3a"}, {"api_key"}),
        # litellm reads this provider's key under another name too
        ("fireworks_ai/accounts/x/models/y", {"FIREWORKS_AI_TOKEN": "fw-7f3a"}, {"api_key"}),
        ("openai/gpt-5", {"OPENAI_API_KEY": "sk-7f3a", "HF_TOKEN": "hf-7f3a"}, {"api_key"}),
    ],
)
def test_provider_secrets_leave_the_environment(
    model: str,
    variables: dict[str, str],
    arguments: set[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A provider's other secrets (Bedrock's AWS keys, Azure's AD token) leave the
    environment too once its model is used, and go to litellm as arguments."""
    from agent.config import Settings
    from agent.llm import LLM

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_API_BASE", "https://example.openai.azure.com")
    monkeypatch.setenv("AZURE_API_VERSION", "2024-06-01")
    llm = LLM.from_settings(Settings(model=model))
    assert arguments <= set(llm.credentials)
    children = vcs.git_environment()
    for name, value in variables.items():
        assert name not in os.environ
        assert value not in children.values()


def test_attack_module_planted_for_the_index_workers(
    site: Site, llm: ScriptedLLM, watch: Callable[..., Guard]
) -> None:
    """The repository ships modules named like ones the index's worker processes import.
    During a run the index is built from a thread, so workers are spawned: new Pythons
    started in the workspace, which would put it first on sys.path. All three plants in one
    run (each start costs seconds); the marker names any that was imported."""
    ws = site.ws
    for module in ("multiprocessing", "tree_sitter_python", "marshal"):
        (ws / f"{module}.py").write_text(
            f"import os\nopen({str(marker(site))!r}, 'a').write({module!r} + repr(os.getuid()))\n"
        )
    for number in range(80):  # enough files for the process pool
        (ws / f"m{number}.py").write_text(f"def f{number}():\n    return {number}\n")
    guard = watch()
    llm.add(Reply(text="hi"))
    # The installed command, as users start it (``python -m`` would itself put the workspace
    # on sys.path).
    shipmate = Path(sys.executable).parent / "shipmate"
    done = subprocess.run(
        [str(shipmate), "run", "--model", "scripted", "--api-base", llm.url,
         "--approval", "read-only", "hi"],
        cwd=ws, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "indexed 8" in done.stderr  # the pool did run
    assert not marker(site).exists(), marker(site).read_text()
    guard.check()


def test_an_import_hook_entry_is_not_a_workspace_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editable install puts ``__editable__…__path_hook__`` on sys.path: a name an import
    hook serves, not a folder, so it must not read as "imports from the workspace" (which
    would turn the worker pool off for every editable install). A real relative folder
    still counts."""
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    hook = "__editable__.demo-1.0.finder.__path_hook__"

    class Finder:
        @classmethod
        def serve(cls, entry: str) -> type[Finder]:
            if entry != hook:
                raise ImportError(entry)
            return cls

    monkeypatch.setattr(sys, "path_hooks", [Finder.serve, *sys.path_hooks])
    monkeypatch.syspath_prepend(hook)
    executables.protect(ws)
    assert executables.imports_from(ws) == []
    monkeypatch.syspath_prepend("lib")
    assert executables.imports_from(ws) == [(ws / "lib").resolve()]


def test_attack_sitecustomize_in_a_folder_shipmate_imports_from(
    site: Site, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The project is installed in Shipmate's own environment in editable mode, so its
    ``src`` is on Shipmate's sys.path; a ``sitecustomize.py`` written there would run in every
    Python Shipmate starts. The index then starts none, and the session says why."""
    from agent.index.index import CodeIndex
    from agent.index.store import Store

    ws = site.ws
    src = ws / "src"
    src.mkdir()
    (src / "sitecustomize.py").write_text(f"open({str(marker(site))!r}, 'w').write('ran')\n")
    for number in range(80):
        (src / f"m{number}.py").write_text(f"def f{number}():\n    return {number}\n")
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.setenv("PYTHONPATH", str(src))  # so a new Python would find it at start-up
    executables.protect(ws)
    assert executables.imports_from(ws) == [src.resolve()]
    # As during a run, another thread is alive, so the pool would spawn new Pythons.
    waiting = threading.Event()
    thread = threading.Thread(target=waiting.wait, daemon=True)
    thread.start()
    try:
        index = CodeIndex(ws, Store(tmp_path / "index.sqlite"))
        assert index.refresh().files == 81
    finally:
        waiting.set()
    assert not marker(site).exists()
