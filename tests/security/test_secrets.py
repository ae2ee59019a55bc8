"""Secrets stay hidden: from the file tools however the path is spelled, from commands in the
sandbox however they read, and from the home folder, wherever a credential lives.

Every attack plants the same secret value and checks it appears in no output the model would
see. Controls show that what should stay visible (toolchains, a file the user allowed) does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from security_helpers import Guard, Site, sh

from agent.config import ApprovalMode
from agent.policy.permissions import Permissions
from agent.policy.rules import Rule, RuleBook
from tools.base import Tool, ToolContext, ToolError
from tools.edit import EditFile
from tools.files import ReadFile, WriteFile
from tools.sandbox import Sandbox, SandboxSettings
from tools.search import Grep
from tools.secret_files import is_secret_path
from tools.shell import RunCommand

from helpers import git

SECRET = "sk-live-9c1d4e-the-attacker-wants-this"


def permissions(ws: Path, mode: ApprovalMode, *rules: Rule) -> Permissions:
    book = RuleBook(ws)
    book.rules = list(rules)
    return Permissions(mode, book, ws.resolve(), sandboxed=True)


async def outcome(perms: Permissions, ctx: ToolContext, call: Tool) -> str:
    """ "ask"/"deny" when the policy stops the call; otherwise what the tool returned."""
    check = perms.check(call)
    if check.verdict != "allow":
        return check.verdict
    try:
        return (await call.run(ctx)).output
    except ToolError as error:
        return f"error: {error}"


@pytest.mark.parametrize(
    "path",
    [
        ".env ",
        " .env",
        ".env\n",
        ".env\t",
        ".env\r",
        "./.env",
        ".env/.",
        "sub/../.env",
        ".//.env",
        "\u202e.env",
        ".env\x1b[0m",
        ".env\x00",
    ],
)
async def test_attack_secret_path_spelled_differently(
    path: str, site: Site, watch: Callable[..., Guard]
) -> None:
    """read_file, grep, edit_file and write_file with a path the name check might not see
    as .env (whitespace, control characters, dot segments) but the open might."""
    (site.ws / ".env").write_text(f"API_KEY={SECRET}\n")
    (site.ws / "sub").mkdir()
    ctx = ToolContext(site.ws)
    guard = watch()
    for mode in ("full-auto", "auto-edit"):
        perms = permissions(site.ws, mode)
        calls: list[Tool] = [
            ReadFile(path=path),
            Grep(pattern="KEY", path=path),
            EditFile(path=path, old_text="nothing like this", new_text="x"),
            WriteFile(path=path, content="API_KEY=replaced\n"),
        ]
        for call in calls:
            seen = await outcome(perms, ctx, call)
            assert SECRET not in seen, (mode, call)
    assert SECRET in (site.ws / ".env").read_text()
    guard.check()


def test_secret_names_are_judged_without_whitespace_or_case() -> None:
    for path in (".env ", " .env", ".ENV", "config/.Env.production ", " .ssh /id_rsa"):
        assert is_secret_path(path), path
    for path in ("env.py", ".env.example", "src/environment.ts", "keys.py"):
        assert not is_secret_path(path), path


async def test_attack_edit_a_secret_file_to_see_it(site: Site) -> None:
    """edit_file shows the closest lines when its text does not match, and the changed region
    when it does: either way it reads the file, so it asks like a read, even in full-auto."""
    (site.ws / ".env").write_text(f"API_KEY={SECRET}\n")
    for mode in ("auto-edit", "full-auto"):
        call = EditFile(path=".env", old_text="API_KEY=sk", new_text="API_KEY=x")
        check = permissions(site.ws, mode).check(call)
        assert check.verdict == "ask"
        assert "secrets" in check.reason and check.suggestion is not None
    allowed = permissions(site.ws, "auto-edit", Rule(action="allow", tool="read", pattern=".env"))
    assert allowed.check(EditFile(path=".env", old_text="a", new_text="b")).verdict == "allow"


def sandbox_context(box: ToolContext, reveal: Callable[[str], bool] | None = None) -> ToolContext:
    return ToolContext(
        workspace=box.workspace,
        log_dir=box.log_dir,
        command_timeout=20,
        sandbox=box.sandbox,
        reveal=reveal,
    )


@pytest.mark.parametrize(
    "command",
    [
        "cat .env",
        "grep -r KEY .",
        "rg --no-ignore --hidden KEY",
        "cat notes.txt",
        "git grep --no-index KEY",
        "cp .env copy.txt && cat copy.txt",
        "tar cf - . | tar xOf -",
        "python3 -c 'print(open(\".env\").read())'",
        "cat config/prod.env.local config/.env.production certs/server.pem keys/id_rsa",
        "cat .ssh/id_ed25519",
        "find . -name '*.key' -exec cat {} +",
    ],
)
async def test_attack_read_workspace_secrets_with_commands(
    command: str, box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Read-only looking commands (auto-edit runs some unasked) that print a secret file of
    the workspace, directly, through a link, a copy, an archive or an interpreter."""
    ws = site.ws
    (ws / ".env").write_text(f"API_KEY={SECRET}\n")
    (ws / "notes.txt").symlink_to(".env")
    for relative in ("config/.env.production", "certs/server.pem", "keys/id_rsa", "x/y.key"):
        (ws / relative).parent.mkdir(parents=True, exist_ok=True)
        (ws / relative).write_text(f"{SECRET}\n")
    (ws / ".ssh").mkdir()
    (ws / ".ssh" / "id_ed25519").write_text(f"{SECRET}\n")
    (ws / "README.md").write_text("no secret here\n")
    git(ws, "init", "-q", "-b", "main")
    guard = watch()
    result = await sh(sandbox_context(box), command)
    assert SECRET not in result.output
    assert (ws / ".env").read_text() == f"API_KEY={SECRET}\n"
    guard.check()


async def test_control_a_read_rule_lets_commands_see_that_file(
    box: ToolContext, site: Site
) -> None:
    """Not an attack: the user allowed .env.test; commands see it, and still not .env."""
    (site.ws / ".env").write_text(f"API_KEY={SECRET}\n")
    (site.ws / ".env.test").write_text("API_KEY=test-value\n")
    perms = permissions(
        site.ws, "auto-edit", Rule(action="allow", tool="read", pattern=".env.test")
    )
    result = await sh(sandbox_context(box, perms.reveals), "cat .env.test .env; echo")
    assert "API_KEY=test-value" in result.output
    assert SECRET not in result.output


async def test_failing_command_is_told_which_files_are_masked(box: ToolContext, site: Site) -> None:
    (site.ws / ".env").write_text(f"API_KEY={SECRET}\n")
    result = await sh(sandbox_context(box), "grep -q API_KEY .env")
    assert result.is_error
    assert "empty to commands: .env" in result.output
    assert "shipmate rules add --read" in result.output


HOME_SECRETS = (
    ".config/gh/hosts.yml",
    ".config/git/credentials",
    ".git-credentials",
    ".cargo/credentials.toml",
    ".pgpass",
    ".vault-token",
    ".cache/huggingface/token",
    ".gem/credentials",
    ".m2/settings.xml",
    ".terraform.d/credentials.tfrc.json",
    ".config/rclone/rclone.conf",
    ".bash_history",
    ".zsh_history",
    ".local/share/shipmate/sessions.db",
    ".local/share/shipmate/logs/abc/command-1.log",
    ".config/shipmate/config.toml",
    ".docker/config.json",
    ".kube/config",
    ".aws/credentials",
    "Documents/passwords.txt",
)


async def test_attack_read_credentials_in_the_home_folder(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Every credential a list of masks could miss: the home is hidden whole."""
    for relative in HOME_SECRETS:
        path = site.home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{SECRET}\n")
    guard = watch()
    paths = " ".join(f"~/{relative}" for relative in HOME_SECRETS)
    result = await sh(box, f"cat {paths}; grep -r sk-live ~ /var/tmp 2>/dev/null")
    assert SECRET not in result.output
    listing = await sh(box, "ls -A ~ ~/.config ~/.local 2>&1")
    for name in (".bash_history", ".pgpass", ".vault-token", "gh", "Documents", ".aws"):
        assert name not in listing.output
    guard.check()


async def test_attack_read_credentials_behind_links_and_xdg_folders(
    box: ToolContext, site: Site, monkeypatch: pytest.MonkeyPatch, watch: Callable[..., Guard]
) -> None:
    """A dotfile manager links ~/.aws and ~/.gnupg to a folder outside the home, and the XDG
    folders (gh's token, git credentials, Shipmate's own sessions) live outside it too."""
    dotfiles = site.root / "dotfiles"
    for name in ("aws", "gnupg"):
        (dotfiles / name).mkdir(parents=True)
        (dotfiles / name / "credentials").write_text(f"{SECRET}\n")
    (site.home / ".aws").symlink_to(dotfiles / "aws", target_is_directory=True)
    (site.home / ".gnupg").symlink_to(dotfiles / "gnupg", target_is_directory=True)
    (site.home / ".netrc").symlink_to(dotfiles / "aws" / "credentials")
    xdg = site.root / "xdg"
    for variable, relative in (
        ("XDG_CONFIG_HOME", "config/gh/hosts.yml"),
        ("XDG_DATA_HOME", "data/shipmate/sessions.db"),
        ("XDG_STATE_HOME", "state/shipmate/x"),
        ("XDG_CACHE_HOME", "cache/shipmate/index.sqlite"),
    ):
        path = xdg / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{SECRET}\n")
        monkeypatch.setenv(variable, str(xdg / relative.split("/")[0]))
    guard = watch(dotfiles, xdg)
    result = await sh(
        box,
        f"cat ~/.aws/credentials ~/.gnupg/credentials ~/.netrc {dotfiles}/aws/credentials "
        f"{dotfiles}/gnupg/credentials; grep -r sk-live {xdg} {dotfiles} 2>/dev/null",
    )
    assert SECRET not in result.output
    guard.check()


async def test_control_toolchains_in_the_home_stay_usable_and_read_only(
    box: ToolContext, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not an attack: a tool in ~/.local/bin, a pyenv-style folder, the user's .gitconfig and a
    folder named in sandbox.home_allow are seen, read-only; their neighbours are not."""
    tool_dir = site.home / ".local" / "bin"
    tool_dir.mkdir(parents=True)
    (tool_dir / "probe-tool").write_text("#!/bin/sh\necho probe-ran\n")
    (tool_dir / "probe-tool").chmod(0o755)
    (site.home / ".local" / "share").mkdir()
    (site.home / ".local" / "share" / "keyring").write_text(f"{SECRET}\n")
    (site.home / ".gitconfig").write_text("[user]\n\tname = Someone\n")
    (site.home / "datasets").mkdir()
    (site.home / "datasets" / "small.csv").write_text("a,b\n1,2\n")
    monkeypatch.setenv("PATH", f"{tool_dir}{os.pathsep}{os.environ['PATH']}")
    assert box.sandbox is not None
    sandbox = Sandbox(
        SandboxSettings(site.ws.resolve(), home_allow=("datasets",)),
        box.sandbox.bubblewrap,
        box.sandbox.limits,
    )
    ctx = ToolContext(site.ws, log_dir=box.log_dir, command_timeout=20, sandbox=sandbox)
    result = await sh(
        ctx,
        "probe-tool; git config user.name; cat ~/datasets/small.csv; "
        "cat ~/.local/share/keyring; touch ~/.local/bin/planted ~/datasets/planted",
    )
    assert "probe-ran" in result.output
    assert "Someone" in result.output
    assert "1,2" in result.output
    assert SECRET not in result.output
    assert "Read-only file system" in result.output
    assert not (tool_dir / "planted").exists()


async def test_attack_read_the_token_a_clone_keeps_in_git_config(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """CI checkouts keep a token in .git/config (http.extraheader, a remote's URL): cat it,
    ask git for it, or read it with the file tools."""
    ws = site.ws
    git(ws, "init", "-q", "-b", "main")
    git(ws, "remote", "add", "origin", f"https://x-access-token:{SECRET}@github.com/o/r.git")
    git(ws, "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {SECRET}")
    guard = watch()
    result = await sh(box, "cat .git/config; git remote -v; git config --list; git status")
    assert SECRET not in result.output
    assert "github.com/o/r.git" in result.output  # git still works, and sees the remote
    assert "On branch main" in result.output
    assert permissions(ws, "full-auto").check(ReadFile(path=".git/config")).verdict == "ask"
    guard.check()


async def test_control_linked_worktree_of_a_repository_in_the_home(
    box: ToolContext, site: Site
) -> None:
    """Not an attack: the workspace is a linked worktree whose repository lives in the
    (hidden) home; git in the sandbox still works, read-only."""
    main = site.home / "code" / "project"
    main.mkdir(parents=True)
    (main / "a.txt").write_text("a\n")
    git(main, "init", "-q", "-b", "main")
    git(main, "add", "a.txt")
    git(main, "commit", "-qm", "first")
    site.ws.rmdir()
    git(main, "worktree", "add", "-q", str(site.ws), "-b", "feature")
    assert box.sandbox is not None
    result = await sh(box, "git status; git log --oneline; ls ~/code/project/a.txt")
    assert "On branch feature" in result.output and "first" in result.output
    assert "No such file" in result.output  # the rest of the home stays hidden


async def test_attack_read_credentials_named_by_variables(
    box: ToolContext, site: Site, monkeypatch: pytest.MonkeyPatch, watch: Callable[..., Guard]
) -> None:
    """Credential files outside the home that the user's environment points at (a cloud
    service account, a kubeconfig): the variables never reach the command, but a model can
    guess the path."""
    keys = site.root / "opt" / "keys"
    keys.mkdir(parents=True)
    (keys / "service-account.json").write_text(f'{{"private_key": "{SECRET}"}}\n')
    (keys / "kubeconfig").write_text(f"token: {SECRET}\n")
    (keys / "docker").mkdir()
    (keys / "docker" / "config.json").write_text(f'{{"auth": "{SECRET}"}}\n')
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(keys / "service-account.json"))
    monkeypatch.setenv("KUBECONFIG", f"{keys / 'kubeconfig'}{os.pathsep}/nonexistent")
    monkeypatch.setenv("DOCKER_CONFIG", str(keys / "docker"))
    guard = watch(keys)
    result = await sh(box, f"cat {keys}/service-account.json {keys}/kubeconfig {keys}/docker/*")
    assert SECRET not in result.output
    guard.check()


@pytest.mark.parametrize(
    "undo",
    [
        "touch config/pyvenv.cfg",
        "mkdir -p config/conda-meta",
        "mkdir x && mv config x/node_modules",
        "mv config .venv",
        "mkdir -p .git && mv config .git/config-copy",
        "mv config 'con fig'",
    ],
)
async def test_attack_undo_the_masks_between_commands(
    undo: str, box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """One command changes what the next command's masks are computed from: it makes the
    folder look like a virtualenv or renames it to a name a walk might skip. The file itself
    cannot be moved (it is a mount point), but its folder can."""
    (site.ws / "config").mkdir()
    (site.ws / "config" / ".env").write_text(f"API_KEY={SECRET}\n")
    guard = watch()
    ctx = sandbox_context(box)
    first = await sh(ctx, undo)
    assert not first.is_error, first.output
    result = await sh(ctx, "grep -r API_KEY . 2>/dev/null; find . -name .env -exec cat {} +")
    assert SECRET not in result.output
    guard.check()


async def test_attack_credentials_in_the_toolchains_bound_back(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """The toolchains a build needs come back from the hidden home, and with them whatever
    credentials they keep: a token in ~/.gitconfig (an insteadOf URL, an extraheader, an
    SMTP password), uv's credential store."""
    (site.home / ".gitconfig").write_text(
        "[user]\n\tname = Someone\n"
        f'[url "https://x-access-token:{SECRET}@github.com/"]\n\tinsteadOf = https://github.com/\n'
        f"[http]\n\textraheader = AUTHORIZATION: basic {SECRET}\n"
        f"[sendemail]\n\tsmtpPass = {SECRET}\n"
    )
    uv = site.home / ".local" / "share" / "uv"
    (uv / "credentials").mkdir(parents=True)
    (uv / "credentials" / "credentials.toml").write_text(f'password = "{SECRET}"\n')
    (uv / "python").mkdir()
    guard = watch()
    result = await sh(
        box,
        "cat ~/.gitconfig ~/.local/share/uv/credentials/credentials.toml; "
        "git config --global --list; git config --global user.name; ls ~/.local/share/uv",
    )
    assert SECRET not in result.output
    assert "Someone" in result.output and "python" in result.output  # still usable
    guard.check()


async def test_attack_git_config_credentials_in_other_forms(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Credentials the scrub must also find: an SMTP password, a value continued over lines,
    a file the config includes, the worktree config."""
    ws = site.ws
    git(ws, "init", "-q", "-b", "main")
    git(ws, "config", "sendemail.smtpPass", SECRET)
    git(ws, "config", "extensions.worktreeConfig", "true")
    git(ws, "config", "--worktree", "http.extraHeader", f"Authorization: Bearer {SECRET}")
    with (ws / ".git" / "config").open("a") as handle:
        handle.write(f"[http]\n\textraheader = first part \\\n{SECRET}\n")
        handle.write("[include]\n\tpath = ci-auth.inc\n")
    (ws / ".git" / "ci-auth.inc").write_text(
        f'[remote "ci"]\n\turl = https://ci:{SECRET}@example.com/r.git\n'
    )
    guard = watch()
    result = await sh(
        box,
        "cat .git/config .git/config.worktree .git/ci-auth.inc; git config --list; git status",
    )
    assert SECRET not in result.output
    assert "On branch main" in result.output  # the scrubbed config is still valid
    perms = permissions(ws, "full-auto")
    for path in (".git/ci-auth.inc", ".git/config.worktree", ".git/HEAD"):
        assert perms.check(ReadFile(path=path)).verdict == "ask"
    guard.check()


def test_attack_committed_secret_through_git_readers(site: Site) -> None:
    """A tracked .env is masked in the work tree, but git prints it from its objects: in
    auto-edit, the git readers that print content ask when the repository tracks a secret."""
    ws = site.ws
    (ws / ".env").write_text(f"API_KEY={SECRET}\n")
    (ws / "app.py").write_text("print(1)\n")
    git(ws, "init", "-q", "-b", "main")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "oops")
    perms = permissions(ws, "auto-edit")
    for line in (
        "git show HEAD",
        "git log -p",
        "git --no-pager log -p -1",
        "git diff",
        "git diff HEAD~0",
        "git grep sk_live HEAD",
        "git blame .env",
        "git status -vv",
        "git status --verbose",
    ):
        assert perms.check(RunCommand(command=line)).verdict == "ask", line
    for line in ("git status", "git status --short", "ls"):
        assert perms.check(RunCommand(command=line)).verdict == "allow", line


def test_attack_secret_committed_once_and_removed_since(site: Site) -> None:
    """.env was committed, then untracked (``git rm --cached``): the work tree and the index
    no longer hold it, but history does, and ``git log -p`` prints it."""
    ws = site.ws
    (ws / ".env").write_text(f"API_KEY={SECRET}\n")
    git(ws, "init", "-q", "-b", "main")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "oops")
    git(ws, "rm", "-q", "--cached", ".env")
    (ws / ".gitignore").write_text(".env\n")
    git(ws, "add", ".gitignore")
    git(ws, "commit", "-qm", "untrack .env")
    perms = permissions(ws, "auto-edit")
    for line in ("git log -p", "git log -p --all", "git show HEAD~1"):
        assert perms.check(RunCommand(command=line)).verdict == "ask", line


def test_control_git_readers_run_where_no_secret_is_tracked(site: Site) -> None:
    ws = site.ws
    (ws / "app.py").write_text("print(1)\n")
    (ws / ".env").write_text(f"API_KEY={SECRET}\n")  # untracked: masked, and not in git
    (ws / ".gitignore").write_text(".env\n")
    git(ws, "init", "-q", "-b", "main")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "clean")
    perms = permissions(ws, "auto-edit")
    for line in ("git show HEAD", "git log -p -1", "git diff", "git log --oneline -5"):
        assert perms.check(RunCommand(command=line)).verdict == "allow", line


async def test_attack_token_in_git_config_when_the_workspace_is_in_the_home(
    bubblewrap: object, site: Site, tmp_path: Path, watch: Callable[..., Guard]
) -> None:
    """The usual layout (and CI's: HOME=/home/runner, the checkout under it): the workspace
    lies inside the hidden home; its git config must be scrubbed all the same, and its
    submodules' configs too (actions/checkout writes the extraheader into each)."""
    ws = site.home / "work" / "repo"
    ws.mkdir(parents=True)
    git(ws, "init", "-q", "-b", "main")
    git(ws, "remote", "add", "origin", f"https://x-access-token:{SECRET}@github.com/o/r.git")
    git(ws, "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {SECRET}")
    module = ws / ".git" / "modules" / "lib"
    module.mkdir(parents=True)
    (module / "config").write_text(
        f'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic {SECRET}\n'
    )
    sandbox = Sandbox(SandboxSettings(ws.resolve()), bubblewrap)  # type: ignore[arg-type]
    ctx = ToolContext(ws, log_dir=tmp_path / "logs", command_timeout=20, sandbox=sandbox)
    guard = watch()
    result = await sh(ctx, "cat .git/config .git/modules/lib/config; git remote -v; git status")
    assert SECRET not in result.output
    assert "github.com/o/r.git" in result.output and "On branch main" in result.output
    guard.check()


async def test_attack_repository_named_through_commondir(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """A command in a non-git workspace fakes a linked worktree whose ``gitdir`` points back,
    but whose ``commondir`` names a repository in the hidden home (say, the dotfiles)."""
    dotfiles = site.home / ".dotfiles.git"
    git(site.home, "init", "-q", "--bare", str(dotfiles))
    result = await sh(
        box,
        "mkdir -p sub/wt && echo ref: refs/heads/main > sub/wt/HEAD && "
        f"echo \"$PWD/.git\" > sub/wt/gitdir && echo '{dotfiles}' > sub/wt/commondir && "
        "echo 'gitdir: sub/wt' > .git",
    )
    assert not result.is_error, result.output
    from agent.vcs import git as vcs

    vcs.forget()
    assert vcs.repository(site.ws) is None
    guard = watch()
    listing = await sh(box, f"ls {dotfiles} 2>&1; git log 2>&1")
    assert "HEAD" not in listing.output.split()  # the dotfiles repository stays hidden
    guard.check()


async def test_attack_workspace_virtualenv_turned_into_a_link(
    box: ToolContext, site: Site, monkeypatch: pytest.MonkeyPatch, watch: Callable[..., Guard]
) -> None:
    """The user activated the workspace's .venv; a command replaces it with a link to a
    folder of the hidden home, for the next command's toolchain binds to follow."""
    (site.home / ".config" / "copilot").mkdir(parents=True)
    (site.home / ".config" / "copilot" / "hosts.json").write_text(f'{{"token": "{SECRET}"}}\n')
    venv = site.ws / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = await sh(box, f"rm -rf .venv && ln -s {site.home / '.config'} .venv")
    assert not result.is_error, result.output
    from tools import sandbox_view

    sandbox_view._fixed_view.cache_clear()  # the next session computes the view afresh
    guard = watch()
    result = await sh(box, f"cat .venv/copilot/hosts.json {site.home}/.config/copilot/hosts.json")
    assert SECRET not in result.output
    guard.check()


async def test_attack_hide_a_moved_folder_behind_an_old_mtime(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """Listings are reused while a folder is unchanged: set the mtime back after moving a
    secret's folder in, so the walk trusts a stale listing."""
    (site.ws / "config").mkdir()
    (site.ws / "config" / ".env").write_text(f"API_KEY={SECRET}\n")
    ctx = sandbox_context(box)
    guard = watch()
    for command in (
        "mkdir d && touch -m -d '2020-01-01' d",
        "mv config d/ && touch -m -d '2020-01-01' d",
    ):
        assert not (await sh(ctx, command)).is_error
    result = await sh(ctx, "cat d/config/.env")
    assert SECRET not in result.output
    guard.check()


def test_a_folder_the_walk_cannot_list_is_masked_whole(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command makes a folder unreadable (chmod 000) so the walk cannot see the secret in
    it, then readable again. Root can always list it, so the refusal is simulated."""
    from tools import sandbox_view

    (site.ws / "config").mkdir()
    (site.ws / "config" / ".env").write_text(f"API_KEY={SECRET}\n")
    real_scandir = os.scandir

    def refuse(path: str) -> object:
        if str(path).endswith("/config"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(sandbox_view.os, "scandir", refuse)
    assert sandbox_view.workspace_secrets(site.ws) == ["config"]


def test_attack_allow_always_on_a_name_that_is_a_glob(site: Site) -> None:
    """The repository ships a folder literally named ``**`` with a dummy .env; "allow always"
    saves the rule for that one file, not ``**/.env`` for every .env at any depth."""
    ws = site.ws
    (ws / "**").mkdir()
    (ws / "**" / ".env").write_text("DUMMY=1\n")
    (ws / ".env").write_text(f"API_KEY={SECRET}\n")
    (ws / "deploy").mkdir()
    (ws / "deploy" / ".env").write_text(f"API_KEY={SECRET}\n")
    perms = permissions(ws, "auto-edit")
    check = perms.check(ReadFile(path="**/.env"))
    assert check.verdict == "ask" and check.suggestion is not None
    perms.remember(check.suggestion)
    assert perms.check(ReadFile(path="**/.env")).verdict == "allow"
    for path in (".env", "deploy/.env"):
        assert perms.check(ReadFile(path=path)).verdict == "ask", path
    assert not perms.reveals(".env") and not perms.reveals("deploy/.env")
    check = perms.check(ReadFile(path=".env"))
    assert check.suggestion is not None
    perms.remember(check.suggestion)
    assert perms.check(ReadFile(path="deploy/.env")).verdict == "ask"


async def test_attack_index_reads_through_a_folder_swapped_for_a_link(
    box: ToolContext, site: Site, tmp_path: Path, watch: Callable[..., Guard]
) -> None:
    """The repository tracks tools/deploy.sh; a command replaces the folder ``tools`` with a
    link to a folder of the hidden home, whose deploy.sh holds a token. The index, its tools
    and grep must not read through the link."""
    from agent.index.index import CodeIndex
    from agent.index.store import Store
    from tools.code import FileOutline, FindSymbol, RepoMap

    ws = site.ws
    (ws / "tools").mkdir()
    (ws / "tools" / "deploy.sh").write_text("deploy() {\n  echo deploying\n}\n")
    git(ws, "init", "-q", "-b", "main")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "tools")
    scripts = site.home / "scripts"
    scripts.mkdir()
    (scripts / "deploy.sh").write_text(
        f"deploy() {{\n  curl -H 'Authorization: Bearer {SECRET}' https://x\n}}\n"
    )
    result = await sh(box, f"rm -rf tools && ln -s {scripts} tools")
    assert not result.is_error, result.output
    guard = watch()
    ctx = ToolContext(ws)
    ctx.index = CodeIndex(ws, Store(tmp_path / "index.sqlite"))
    ctx.index.refresh()
    outputs = [
        (await FindSymbol(symbol="deploy").run(ctx)).output,
        (await FindSymbol(symbol="curl").run(ctx)).output,
        (await RepoMap(query="deploy curl Authorization").run(ctx)).output,
        (await Grep(pattern="Bearer").run(ctx)).output,
    ]
    for call in (FileOutline(path="tools/deploy.sh"), ReadFile(path="tools/deploy.sh")):
        try:
            outputs.append((await call.run(ctx)).output)
        except ToolError as error:
            outputs.append(str(error))
    assert not any(SECRET in output for output in outputs), outputs
    guard.check()


async def test_attack_token_in_a_nested_clone(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """A second checkout inside the workspace (actions/checkout with ``path: other``) keeps
    its own extraheader, in git's one-line form too."""
    other = site.ws / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    git(other, "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {SECRET}")
    with (other / ".git" / "config").open("a") as handle:
        handle.write(f"[sendemail] smtpPass = {SECRET}\n")
    guard = watch()
    result = await sh(box, "cat other/.git/config; git -C other config --list; git -C other status")
    assert SECRET not in result.output
    assert "On branch main" in result.output
    guard.check()


async def test_attack_project_under_the_go_path(
    box: ToolContext, site: Site, watch: Callable[..., Guard]
) -> None:
    """~/go comes back for builds, but GOPATH-style projects (with their .env files) live in
    ~/go/src: only the module cache and the binaries come back."""
    project = site.home / "go" / "src" / "github.com" / "me" / "api"
    project.mkdir(parents=True)
    (project / ".env").write_text(f"API_KEY={SECRET}\n")
    (project / "main.go").write_text("package main\n")
    (site.home / "go" / "pkg" / "mod").mkdir(parents=True)
    (site.home / "go" / "bin").mkdir()
    guard = watch()
    result = await sh(box, "cat ~/go/src/github.com/me/api/.env; ls ~/go")
    assert SECRET not in result.output
    assert "pkg" in result.output and "src" not in result.output.split()
    guard.check()
