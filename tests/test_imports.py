"""Import hygiene: the core never pulls in the UI, and --help never pulls in litellm."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import REPO_ROOT, committed


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_core_does_not_import_textual() -> None:
    modules = loaded_after(
        "import agent.conversation, agent.frontends.headless, agent.llm, agent.doctor\n"
        "import agent.onboarding\n"
        "import agent.index.cli, agent.frontends.watch, agent.context.ai_comments\n"
        "import tools.registry\nagent.llm.litellm()"
    )
    assert "agent.conversation" in modules and "litellm" in modules
    assert not {m for m in modules if m == "textual" or m.startswith("textual.")}


def test_help_and_version_do_not_import_litellm() -> None:
    for flag in ("--help", "--version"):
        modules = loaded_after(
            "import sys\nfrom agent.cli import main\n"
            f"try:\n    main([{flag!r}])\nexcept SystemExit:\n    pass"
        )
        assert "agent.cli" in modules
        assert "litellm" not in modules
        assert "pydantic" not in modules


def test_the_app_paints_before_pydantic_and_litellm() -> None:
    """The app's module (all its first frame needs) leaves the core for later."""
    modules = loaded_after("import agent.tui.app")
    assert "textual.app" in modules
    assert not {m for m in modules if m.split(".")[0] in ("pydantic", "litellm")}
    assert "agent.conversation" not in modules


def test_the_mcp_sdk_is_imported_only_when_a_server_starts() -> None:
    """It costs 1–2 s: a session without MCP servers never pays it."""
    modules = loaded_after(
        "import agent.conversation, agent.frontends.headless, agent.cli, agent.mcp.servers"
    )
    assert "agent.mcp.servers" in modules
    assert not {m for m in modules if m.split(".")[0] in ("mcp", "mcp_types")}


def test_the_map_in_a_repository_starts_without_the_settings(tmp_path: Path) -> None:
    """Warm ``shipmate map`` is meant to answer in a fraction of a second: in git it has no
    use for the settings (pydantic) or for ``.shipmateignore`` rules (pathspec)."""
    repo = committed(tmp_path / "repo", {"app.py": "def main():\n    return 1\n"})
    run = f"from agent.cli import main\nassert main(['map', '-q', 'main', '-C', '{repo}']) == 0"
    for _ in range(2):  # cold, then warm
        modules = loaded_after(run)
        assert "agent.index.index" in modules
        assert not {m for m in modules if m.split(".")[0] in ("pydantic", "pathspec")}


def test_only_the_acp_front_end_imports_the_acp_sdk() -> None:
    modules = loaded_after(
        "import agent.conversation, agent.frontends.headless, agent.cli\nimport tools.registry"
    )
    assert "agent.conversation" in modules
    assert not {m for m in modules if m == "acp" or m.startswith("acp.")}


def test_doctor_without_a_model_does_not_import_litellm(tmp_path: Path) -> None:
    """Nothing to check a model with: doctor answers without litellm's seconds of import."""
    modules = loaded_after(
        "from agent.cli import main\n"
        f"assert main(['doctor', '-C', {str(tmp_path)!r}]) == 1  # no model is configured"
    )
    assert "agent.doctor" in modules and "litellm" not in modules
