"""``shipmate doctor``: the effective settings and what works on this machine.

Key values are never printed, only whether each variable is set. With --api-base the server
is asked for its models (``GET …/models``, a few seconds at most), so a server that is not
running, or a wrong URL, shows here and not in the middle of a task.
"""

from __future__ import annotations

import http
import importlib.util
import json
import platform
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from agent import __version__, keys
from agent.api_errors import display_url, not_listening
from agent.config import (
    DEFAULT_MODELS,
    PROJECT_FILE,
    ConfigError,
    Settings,
    choose_model,
    data_dir,
    user_config_file,
    user_instructions_file,
)
from agent.index.languages import LANGUAGES
from agent.llm import PLACEHOLDER_KEY
from agent.probe import MAX_ANSWER, NoRedirect
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
    instructions = user_instructions_file()
    used = "found: every session follows it" if instructions.is_file() else "not found"
    rows.append(("user instructions", f"{instructions} ({used})"))
    model_ok = True
    model = None
    api_key = None
    key_names: list[str] = []
    try:
        model = choose_model(settings)
        source = "configured" if settings.model else "chosen from the API key present"
        rows.append(("model", f"{model} ({source})"))
        key_problem, api_key, key_names = _key_problem(model, settings)
        if key_problem:
            model_ok = False
            rows.append(("model check", key_problem))
    except ConfigError as error:
        model_ok = False
        rows.append(("model", str(error)))
    rows.append(("api base", settings.api_base or "(provider default)"))
    if settings.api_base and model is not None:
        served, provider = _served_name(model, settings)
        reached, line = check_server(settings.api_base, served, api_key, key_names, provider)
        model_ok = model_ok and reached
        rows.append(("server", line))
    rows.append(("approval", settings.approval))
    prices = _prices(model, settings)
    budget = plural(settings.max_turns, "turn")
    if settings.max_cost:
        budget += f", ${settings.max_cost:g}"
        budget += "" if prices else " (not enforced: the model has no price)"
    else:
        budget += ", no cost limit"
    rows.append(("budgets", budget))
    rows.append(
        (
            "prices",
            prices
            or "unknown, so costs show as $0: set input_cost_per_mtok and output_cost_per_mtok",
        )
    )
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
    from agent.mcp.commands import doctor_rows

    rows += doctor_rows(settings, workspace)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0 if model_ok else 1


def _key_problem(model: str, settings: Settings) -> tuple[str | None, str | None, list[str]]:
    """What stops the model's key from working, the key a run would send, and the
    variables it is read from."""
    from agent.llm import litellm

    lib = litellm()
    try:
        provider = lib.get_llm_provider(model, api_base=settings.api_base)[1]
    except Exception:
        return f"litellm does not know the provider of '{model}'", None, []
    reported = lib.validate_environment(model=model, api_base=settings.api_base)["missing_keys"]
    credentials, missing = keys.credentials(reported, provider)
    names = [name for name in reported if not keys.SETTING.fullmatch(name)]
    if missing and not settings.api_base:
        return f"needs {', '.join(missing)}, which is not set", None, names
    return None, credentials.get("api_key"), names


def _served_name(model: str, settings: Settings) -> tuple[str, str]:
    """The model's name as the server knows it (litellm's provider prefix taken off), and
    the provider."""
    from agent.llm import litellm

    try:
        name, provider = litellm().get_llm_provider(model, api_base=settings.api_base)[:2]
    except Exception:
        return model, ""
    return name, provider


def _prices(model: str | None, settings: Settings) -> str | None:
    if settings.prices is not None:
        source, (given_in, given_out) = "your settings", settings.prices
    else:
        from agent.llm import table_prices

        found = table_prices(model) if model else None
        if found is None:
            return None
        source, (given_in, given_out) = "litellm's table", found
    return f"${given_in:g} in, ${given_out:g} out per million tokens ({source})"


# Providers whose servers speak OpenAI's API, where GET /models lists the models.
OPENAI_COMPATIBLE = frozenset(
    (
        "openai", "hosted_vllm", "lm_studio", "openai_like", "custom_openai", "llamafile",
        "text-completion-openai", "litellm_proxy", "openrouter", "deepseek", "groq",
        "together_ai", "fireworks_ai", "mistral", "xai",
    )
)  # fmt: skip
OLLAMA = frozenset(("ollama", "ollama_chat"))
MODELS = ("/models", "data", "id")


def check_server(
    api_base: str,
    model: str,
    api_key: str | None,
    key_names: list[str] | None = None,
    provider: str = "openai",
    timeout: float = 3.0,
) -> tuple[bool, str]:
    """Ask the server for its models: whether it answers and serves ``model`` (False when a
    run would fail: unreachable, not a model server, or the model not among those listed).
    OpenAI-compatible servers list them at ``/models``, Ollama's own API at ``/api/tags``;
    for other providers only whether the server answers at all is checked. A key is sent
    only to an OpenAI-compatible server, at this URL, the one the user named."""
    if provider not in OPENAI_COMPATIBLE and provider not in OLLAMA:
        return _answers(api_base, timeout)
    path, field, key = ("/api/tags", "models", "name") if provider in OLLAMA else MODELS
    url = api_base.rstrip("/") + path
    shown = display_url(url)
    headers = {"Accept": "application/json"}
    if provider in OPENAI_COMPATIBLE and api_key and api_key != PLACEHOLDER_KEY:
        headers["Authorization"] = f"Bearer {api_key}"
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as answer:
            content_type = answer.headers.get_content_type()
            body = answer.read(MAX_ANSWER)
    except urllib.error.HTTPError as error:
        return False, _refused(shown, error, key_names or [])
    except urllib.error.URLError as error:
        return False, _unreachable(api_base, error.reason, timeout)
    except (OSError, http.client.HTTPException) as error:
        return False, _unreachable(api_base, error, timeout)
    try:
        listing = json.loads(body)
        names = [str(entry.get(key)) for entry in listing[field] if isinstance(entry, dict)]
    except (ValueError, KeyError, TypeError, AttributeError):
        wrong = f"{shown} answered with {content_type}, not a model list"
        return False, f"{wrong}: is --api-base right?"
    base = display_url(api_base)
    if model in names or f"{model}:latest" in names:
        return True, f"{base} answers and serves '{model}'"
    if not names:
        return True, f"{base} answers, but lists no models"
    listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return False, f"{base} answers, but does not list '{model}' (it serves {listed}): check --model"


def _answers(api_base: str, timeout: float) -> tuple[bool, str]:
    """Whether anything answers HTTP at ``api_base`` (whatever the status), without a key."""
    request = urllib.request.Request(api_base, method="GET")
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # an answer all the same
    except urllib.error.URLError as error:
        return False, _unreachable(api_base, error.reason, timeout)
    except (OSError, http.client.HTTPException) as error:
        return False, _unreachable(api_base, error, timeout)
    return True, f"{display_url(api_base)} answers (its models are not checked)"


def _refused(shown: str, error: urllib.error.HTTPError, key_names: list[str]) -> str:
    if 300 <= error.code < 400:
        return (
            f"{shown} redirects to {error.headers.get('Location', 'another address')}: put "
            "the address it should be in --api-base"
        )
    if error.code in (401, 403):
        where = f" in {' or '.join(key_names)}" if key_names else ""
        return f"{shown} answered {error.code}: the server wants a valid API key{where}"
    if error.code == 404:
        return (
            f"{shown} answered 404 Not Found: is --api-base the server's OpenAI-compatible "
            "base URL (usually ending in /v1)?"
        )
    try:
        phrase = http.HTTPStatus(error.code).phrase
    except ValueError:
        phrase = ""
    return f"{shown} answered {error.code} {phrase}".rstrip()


def _unreachable(api_base: str, reason: object, timeout: float) -> str:
    shown = display_url(api_base)
    if isinstance(reason, ConnectionRefusedError):
        return not_listening(api_base)
    if isinstance(reason, socket.gaierror):
        return f"the host of {shown} cannot be found (DNS): check --api-base and your network"
    if isinstance(reason, TimeoutError):
        return f"{shown} did not answer within {timeout:g} s"
    if isinstance(reason, ssl.SSLError):
        return f"the TLS (HTTPS) connection to {shown} failed ({reason}): http:// instead?"
    return f"{shown} cannot be reached: {reason}"


def _git_state(workspace: Path) -> str:
    if git.version() is None:
        return "git not installed"
    repository = git.repository(workspace)
    if repository is None:
        return "not a git repository"
    return f"git repository, branch {repository.branch() or 'unknown'}"
