"""Onboarding's core: the keys looked for, local servers found over real HTTP, and the
choice written into the user's config file without disturbing the rest of it."""

from __future__ import annotations

import socket
import stat
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent import keys, onboarding
from agent.config import (
    DEFAULT_MODELS,
    ConfigError,
    NoModel,
    Settings,
    choose_model,
    load_settings,
    user_config_file,
)
from agent.onboarding import (
    LocalServer,
    detect,
    keys_looked_for,
    save_choice,
    set_top_level,
    toml_string,
    with_choice,
)

from scripted_llm import Fault, ScriptedLLM, closed_port_url

HAND_WRITTEN = """\
# My Shipmate settings
approval = "auto-edit"  # I trust it here
pass_env = [
    "JAVA_HOME",
    "[not a table]",
]
model = "old/model"

# What commands may read of my home
[sandbox]
home_allow = [".m2"]  # maven's cache
"""


def root_of(server: ScriptedLLM) -> str:
    return server.url.removesuffix("/v1")


def test_no_model_and_no_key_is_its_own_error() -> None:
    with pytest.raises(NoModel):
        choose_model(Settings())
    with pytest.raises(ConfigError) as raised:  # a server but no model: not a first start
        choose_model(Settings(api_base="http://localhost:11434/v1"))
    assert not isinstance(raised.value, NoModel)


def test_the_keys_looked_for_say_which_is_set() -> None:
    keys.capture(environ={"OPENAI_API_KEY": "sk-test-1234567890"})
    statuses = keys_looked_for()
    assert [(s.variable, s.model) for s in statuses] == DEFAULT_MODELS
    assert [s.variable for s in statuses if s.present] == ["OPENAI_API_KEY"]


def test_servers_are_found_with_their_models(llm: ScriptedLLM) -> None:
    servers = [
        LocalServer("Ollama", root_of(llm), "ollama"),
        LocalServer("nothing", closed_port_url().removesuffix("/v1")),
        LocalServer("LM Studio", root_of(llm)),
    ]
    found = detect(servers)
    assert [(f.server.name, f.models) for f in found] == [
        ("Ollama", ["scripted:latest"]),
        ("LM Studio", ["scripted"]),
    ]
    assert found[0].server.api_base == llm.url
    assert {path for path, _ in llm.gets} == {"/api/tags", "/v1/models"}
    assert all("authorization" not in headers for _, headers in llm.gets)  # no key sent


def test_the_default_servers_are_the_usual_ports() -> None:
    assert [(s.name, s.api_base, s.models_url) for s in onboarding.LOCAL_SERVERS] == [
        ("Ollama", "http://localhost:11434/v1", "http://localhost:11434/api/tags"),
        ("LM Studio", "http://localhost:1234/v1", "http://localhost:1234/v1/models"),
        ("llama.cpp", "http://localhost:8080/v1", "http://localhost:8080/v1/models"),
    ]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=200, body="<html>Router login</html>", content_type="text/html"),
        Fault("status", status=200, body='{"object": "list"}'),  # JSON, but no model list
        Fault("status", status=401, body='{"error": "key needed"}'),
    ],
    ids=["html", "other-json", "unauthorised"],
)
def test_an_answer_that_is_not_a_model_list_is_no_server(llm: ScriptedLLM, fault: Fault) -> None:
    llm.models_fault = fault
    servers = [LocalServer("Ollama", root_of(llm), "ollama"), LocalServer("x", root_of(llm))]
    assert detect(servers) == []
    assert len(llm.gets) == 2


def test_a_redirect_is_not_followed(llm: ScriptedLLM) -> None:
    """Even to a real model list: a probe of a local port must not end up elsewhere."""

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", llm.url + "/models")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert detect([LocalServer("moved", f"http://127.0.0.1:{port}")]) == []
        assert llm.gets == []
    finally:
        server.shutdown()
        server.server_close()


def test_probes_run_at_once_and_give_up_quickly() -> None:
    """Three servers that accept the connection and never answer: about one timeout in all."""
    silent = []
    for _ in range(3):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        silent.append(listener)
    try:
        ports = [listener.getsockname()[1] for listener in silent]
        servers = [LocalServer(f"s{port}", f"http://127.0.0.1:{port}") for port in ports]
        started = time.monotonic()
        assert detect(servers, timeout=0.5) == []
        assert time.monotonic() - started < 1.2
    finally:
        for listener in silent:
            listener.close()


def test_a_new_config_file_holds_the_choice_for_the_user_alone(tmp_path: Path) -> None:
    path = save_choice("openai/qwen2.5-coder:latest", "http://localhost:11434/v1")
    assert path == user_config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text()) == {
        "model": "openai/qwen2.5-coder:latest",
        "api_base": "http://localhost:11434/v1",
    }
    settings = load_settings(tmp_path)
    assert (settings.model, settings.api_base) == (
        "openai/qwen2.5-coder:latest",
        "http://localhost:11434/v1",
    )
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left


def test_the_rest_of_a_hand_written_file_is_kept(tmp_path: Path) -> None:
    path = user_config_file()
    path.parent.mkdir(parents=True)
    path.write_text(HAND_WRITTEN)
    path.chmod(0o640)
    save_choice("openai/llama3", "http://localhost:8080/v1")
    text = path.read_text()
    data = tomllib.loads(text)
    assert data == {
        "approval": "auto-edit",
        "pass_env": ["JAVA_HOME", "[not a table]"],
        "model": "openai/llama3",
        "api_base": "http://localhost:8080/v1",
        "sandbox": {"home_allow": [".m2"]},
    }
    for line in HAND_WRITTEN.splitlines():
        if "old/model" not in line:
            assert line in text.splitlines()
    assert text.index('api_base = "http://localhost:8080/v1"') < text.index("# What commands")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    # A cloud model: its server is no longer the local one.
    save_choice("anthropic/claude-sonnet-4-5", None)
    again = tomllib.loads(path.read_text())
    assert again["model"] == "anthropic/claude-sonnet-4-5" and "api_base" not in again
    assert again["sandbox"] == {"home_allow": [".m2"]} and again["approval"] == "auto-edit"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "[sandbox]\nhome_allow = []\n",
        "# sandbox\n[sandbox]\nhome_allow = []",
        'model = """a\n[b]"""\napi_base = "http://x"\r\n[sandbox]\r\n',
        "'model' = 'x'\n\"api_base\" = 'http://y'\n",
        'approval = "ask"\n[[weird]]\nmodel = "in a table"\n',
    ],
)
def test_round_trips(text: str) -> None:
    values: dict[str, str | None] = {"model": 'o/m "q" \\ \x7f é', "api_base": "http://h/v1"}
    written = set_top_level(text, values, Path("config.toml"))
    data = tomllib.loads(written)
    assert {name: data[name] for name in values} == values
    before = tomllib.loads(text)
    assert {k: v for k, v in data.items() if k not in values} == {
        k: v for k, v in before.items() if k not in values
    }
    removed = tomllib.loads(set_top_level(written, {"api_base": None}, Path("config.toml")))
    assert "api_base" not in removed and removed["model"] == values["model"]


def test_a_broken_file_is_named_not_overwritten() -> None:
    path = user_config_file()
    path.parent.mkdir(parents=True)
    path.write_text("model = \n")
    with pytest.raises(ConfigError, match="could not be read"):
        save_choice("openai/x", None)
    assert path.read_text() == "model = \n"


def test_a_symlinked_config_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "shipmate.toml"
    real.parent.mkdir()
    real.write_text('approval = "ask"\n')
    path = user_config_file()
    path.parent.mkdir(parents=True)
    path.symlink_to(real)
    save_choice("openai/x", "http://localhost:1234/v1")
    assert path.is_symlink()
    assert tomllib.loads(real.read_text())["model"] == "openai/x"


def test_a_key_is_never_written() -> None:
    keys.capture(environ={"ANTHROPIC_API_KEY": "secret-value-123456"})
    for model, api_base in (
        ("sk-ant-api03-abcdef", None),
        ("secret-value-123456", None),
        ("openai/x", "http://localhost/v1?key=secret-value-123456"),
    ):
        with pytest.raises(ConfigError, match="never stores"):
            with_choice(Settings(), model, api_base)
    assert not user_config_file().exists()


def test_a_choice_is_checked_before_anything_is_written() -> None:
    chosen = with_choice(Settings(max_turns=7), "  openai/llama3 ", " http://localhost:8080/v1 ")
    assert (chosen.model, chosen.api_base, chosen.max_turns) == (
        "openai/llama3",
        "http://localhost:8080/v1",
        7,
    )
    assert with_choice(Settings(), "anthropic/claude-sonnet-4-5", "").api_base is None
    with pytest.raises(ConfigError, match="http://"):
        with_choice(Settings(), "openai/x", "localhost:11434")
    with pytest.raises(ConfigError, match="no spaces"):
        with_choice(Settings(), "open ai/x")
    with pytest.raises(ConfigError, match="Type a model"):
        with_choice(Settings(), "  ")


def test_toml_strings_are_escaped() -> None:
    for value in ('a"b', "c\\d", "e\nf\tg", "\x00\x7f", "ünï", "😀"):
        assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value


def test_a_file_that_cannot_be_written_is_one_sentence() -> None:
    folder = user_config_file().parent
    folder.parent.mkdir(parents=True)
    folder.write_text("a file where the config folder should be")
    with pytest.raises(ConfigError, match="could not be written"):
        save_choice("openai/x", None)
