"""``shipmate doctor``: the effective settings and what works on this machine.

Key values are never printed, only whether each variable is set.
"""

from __future__ import annotations

import importlib.util
import platform
from pathlib import Path

from agent import __version__, keys
from agent.config import (
    DEFAULT_MODELS,
    PROJECT_FILE,
    ConfigError,
    Settings,
    choose_model,
    data_dir,
    user_config_file,
)
from agent.index.languages import LANGUAGES
from agent.vcs import git
from tools.base import plural
from tools.executables import imports_from


def report(settings: Settings, workspace: Path) -> int:
    rows: list[tuple[str, str]] = [
        ("shipmate", f"{__version__} (Python {platform.python_version()})"),
        ("workspace", f"{workspace} ({_git_state(workspace)})"),
    ]
    for label, path in (
        ("user config", user_config_file()),
        ("project config", workspace / PROJECT_FILE),
    ):
        rows.append((label, f"{path} ({'found' if path.is_file() else 'not found'})"))
    model_ok = True
    try:
        model = choose_model(settings)
        source = "configured" if settings.model else "chosen from the API key present"
        rows.append(("model", f"{model} ({source})"))
        key_problem = _key_problem(model, settings)
        if key_problem:
            model_ok = False
            rows.append(("model check", key_problem))
    except ConfigError as error:
        model_ok = False
        rows.append(("model", str(error)))
    rows.append(("api base", settings.api_base or "(provider default)"))
    rows.append(("approval", settings.approval))
    budget = plural(settings.max_turns, "turn")
    budget += f", ${settings.max_cost:g}" if settings.max_cost else ", no cost limit"
    rows.append(("budgets", budget))
    rows.append(
        (
            "timeouts",
            f"commands {settings.command_timeout:g} s, model API "
            f"{settings.request_timeout:g} s, {plural(settings.max_retries, 'retry', 'retries')}",
        )
    )
    variables = [name for name, _ in DEFAULT_MODELS]
    present = keys.present()
    rows.append(
        ("API keys", ", ".join(present) + " set" if present else "none of " + ", ".join(variables))
    )
    rows.append(("git", git.version() or "not found: install git"))
    from tools.search import ripgrep

    rg = ripgrep()
    rows.append(
        (
            "search",
            f"ripgrep ({rg})" if rg else "ripgrep not found: grep uses a slower Python search",
        )
    )
    found = [language.name for language in LANGUAGES if importlib.util.find_spec(language.module)]
    rows.append(("grammars", ", ".join(found) if found else "none installed"))
    from agent.policy.sandboxing import describe_sandbox, sandbox_for

    sandbox = sandbox_for(settings, workspace)
    sandbox_line = describe_sandbox(sandbox)
    if not sandbox.active and not settings.dangerously_no_sandbox:
        sandbox_line += "; every command will ask for approval"
    rows.append(("sandbox", sandbox_line))
    if sandbox.active:
        from tools.sandbox_view import describe

        home_allow = tuple(settings.sandbox.home_allow)
        rows += [("", line) for line in describe(workspace, home_allow)]
    if folders := imports_from(workspace):
        shown = ", ".join(str(folder) for folder in folders)
        rows.append(
            (
                "python",
                f"Shipmate imports code from the workspace ({shown}): a command could change "
                "what it runs next time; install Shipmate in an environment of its own",
            )
        )
    rows.append(("sessions", str(data_dir() / "sessions.db")))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0 if model_ok else 1


def _key_problem(model: str, settings: Settings) -> str | None:
    from agent.llm import litellm

    lib = litellm()
    try:
        lib.get_llm_provider(model, api_base=settings.api_base)
    except Exception:
        return f"litellm does not know the provider of '{model}'"
    _, missing = keys.credentials(
        lib.validate_environment(model=model, api_base=settings.api_base)["missing_keys"]
    )
    if missing and not settings.api_base:
        return f"needs {', '.join(missing)}, which is not set"
    return None


def _git_state(workspace: Path) -> str:
    if git.version() is None:
        return "git not installed"
    repository = git.repository(workspace)
    if repository is None:
        return "not a git repository"
    return f"git repository, branch {repository.branch() or 'unknown'}"
