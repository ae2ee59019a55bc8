"""The first screen when no model is configured: the keys Shipmate looks for, the local
servers found on their usual ports, and any model string typed in. The app checks and saves
the choice (``Chosen``) and closes the screen once the session starts; a failure is shown
here, so the person can choose again. Esc (the app's binding) or q leaves to the
conversation without a model."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from agent import onboarding
from agent.onboarding import Found, KeyStatus
from agent.tui.render import clean, plain

TITLE = "Shipmate needs a model"
HELP = "↑↓ Enter: use a local model · Tab: next field · Esc: back without a model"
LOOKING = "Looking for Ollama, LM Studio and llama.cpp on their usual ports…"
MODEL_HINT = "model, e.g. openai/gpt-5 or ollama/NAME"
BASE_HINT = "API base, for a server: http://HOST:PORT/v1"
MAX_MODELS = 20  # per server; a server listing hundreds is not a menu


class OnboardingScreen(Screen[bool | None]):
    """Dismissed with True once the session started with the chosen model, None when left."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "leave", "Back", show=False)]

    class Chosen(Message):
        """The person chose a model (and its server, or none): the app checks and saves it."""

        def __init__(self, model: str, api_base: str | None) -> None:
            super().__init__()
            self.model = model
            self.api_base = api_base

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem  # what the conversation says when the person leaves
        self.saved_to = ""
        self.checking = False
        self.choices: dict[str, tuple[str, str]] = {}  # option id: model, api base

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="onboarding"):
            yield Static(TITLE, id="onboarding-title", markup=False)
            yield Static(keys_text(onboarding.keys_looked_for()), id="onboarding-keys")
            yield Static("Local model servers", classes="heading", markup=False)
            yield Static(LOOKING, id="onboarding-found", markup=False)
            yield OptionList(id="onboarding-servers")
            yield Static("Or any litellm model string", classes="heading", markup=False)
            yield Input(placeholder=MODEL_HINT, id="onboarding-model")
            yield Input(placeholder=BASE_HINT, id="onboarding-base")
            yield Static("", id="onboarding-status", markup=False)
            yield Static(HELP, id="onboarding-help", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).display = False
        self.query_one("#onboarding-model", Input).focus()
        self.run_worker(self._detect, thread=True, name="detect")

    def _detect(self) -> None:
        found = onboarding.detect()
        self.app.call_from_thread(self.show_found, found)

    def show_found(self, found: list[Found]) -> None:
        """The servers that answered, one option per model; the list takes the focus unless
        the person has started typing a model."""
        servers = self.query_one(OptionList)
        options: list[Option] = []
        for entry in found:
            if not entry.models:
                options.append(Option(server_line(entry, None), disabled=True))
            for model in entry.models[:MAX_MODELS]:
                key = f"choice-{len(self.choices)}"
                self.choices[key] = (f"openai/{model}", entry.server.api_base)
                options.append(Option(server_line(entry, model), id=key))
        servers.add_options(options)
        servers.display = bool(options)
        self.query_one("#onboarding-found", Static).update(found_text(found))
        typed = self.query_one("#onboarding-model", Input)
        if self.choices and self.focused is typed and not typed.value:
            servers.focus()
            servers.highlighted = next(i for i, option in enumerate(options) if not option.disabled)

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        choice = self.choices.get(message.option.id or "")
        if choice is not None:
            self._choose(*choice)

    def on_input_submitted(self, message: Input.Submitted) -> None:
        model = self.query_one("#onboarding-model", Input)
        if not model.value.strip():
            self.failed("Type a model first (a litellm model string such as openai/gpt-5).")
            model.focus()
            return
        self._choose(model.value, self.query_one("#onboarding-base", Input).value)

    def _choose(self, model: str, api_base: str | None) -> None:
        if self.checking:
            return
        self.checking = True
        self._status(Text(f"Checking {clean(model)}…"), error=False)
        self.post_message(self.Chosen(model, api_base))

    def failed(self, message: str) -> None:
        """The choice does not work (or could not be saved): said here; choose again."""
        self.checking = False
        self._status(Text("✗ ", style="bold") + plain(message), error=True)

    def saved(self, path: str) -> None:
        self.saved_to = path
        self._status(Text(f"Saved in {clean(path)}. Starting…"), error=False)

    def _status(self, text: Text, error: bool) -> None:
        status = self.query_one("#onboarding-status", Static)
        status.update(text)
        status.set_class(error, "error")
        self.call_after_refresh(status.scroll_visible, animate=False)  # at its new height

    def action_leave(self) -> None:
        self.dismiss(None)


def keys_text(statuses: list[KeyStatus]) -> Text:
    """The keys that would choose a model, the one-line fix, and why not to type one here."""
    present = [status for status in statuses if status.present]
    text = Text("No model is configured")
    text.append(
        ", and none of the API keys Shipmate looks for is set:\n"
        if not present
        else ". Keys Shipmate looks for:\n"
    )
    for status in statuses:
        text.append(f"  {status.variable}", style="bold")
        text.append(f" → {status.model}", style="dim")
        text.append("  (set)\n" if status.present else "\n")
    text.append("To use one: ")
    text.append(f"export {statuses[0].variable}=…", style="bold")
    text.append(
        " in your shell, then start shipmate again. A key is only read from the "
        "environment: never typed here, never stored."
    )
    return text


def found_text(found: list[Found]) -> Text:
    if not found:
        return Text(
            "None found (Ollama on port 11434, LM Studio on 1234, llama.cpp on 8080). "
            "Start one and run shipmate again, or type a model below."
        )
    names = ", ".join(entry.server.name for entry in found)
    return Text(f"Found {names}. Enter uses the highlighted model:")


def server_line(found: Found, model: str | None) -> Text:
    """One choice: the server, the model as it names it (untrusted: cleaned), its address."""
    line = Text(f"{found.server.name}  ", style="bold")
    if model is None:
        line.append("serves no model yet: load one in it", style="italic")
    else:
        line.append(clean(model).replace("\n", " ")[:80])
    line.append(f"  {found.server.api_base}", style="dim")
    return line
