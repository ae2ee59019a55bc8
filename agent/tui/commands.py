"""The slash commands the input understands, and how a line names one."""

from __future__ import annotations

# The approval modes, in the order Shift+Tab cycles them (agent.config.APPROVAL_ORDER, which
# the app does not import before its first frame).
MODES = ("read-only", "ask", "auto-edit", "full-auto")

COMMANDS = {
    "help": "this list",
    "clear": "start a new conversation (the model forgets this one)",
    "compact": "shrink the conversation now: old tool outputs dropped, older turns summarised",
    "undo": "undo the agent's last turn (files and its commits); the model is told",
    "diff": "what the agent changed in this session",
    "approval": "/approval MODE: read-only, ask, auto-edit or full-auto",
    "model": "/model NAME: another model from the next message; alone: the current one",
    "commit": "/commit [MESSAGE]: commit the agent's changes now (the model writes the message)",
    "test": "/test [TARGET]: run the tests (all, or a file, folder, id); the model sees them",
    "map": "/map [QUERY]: the repo map, ranked for the query",
    "sessions": "this workspace's sessions: Enter resumes one here",
    "resume": "/resume ID: go on with that session here",
    "cost": "tokens and cost of this session",
    "quit": "leave (Ctrl+C twice does too)",
}

# The commands the palette puts in the input for the person to finish, rather than run.
TAKES_ARGUMENT = ("model", "resume", "map", "test", "commit")

# The commands the app hands to ``ShipmateApp._more``.
MORE = ("model", "commit", "test", "map", "sessions", "resume")

KEYS = {
    "!command": "run a shell command in the sandbox; the model sees its output next",
    "Enter": "send (while the agent works: queued, sent next)",
    "Ctrl+J": "new line (Shift+Enter where the terminal reports it)",
    "Up / Down": "earlier messages, from the first or last line",
    "Up, input empty": "take back the last queued message, to edit or drop it (or click it)",
    "@ or / at start": "complete a file (it joins the context) or a command: Tab/Enter",
    "Esc": "stop the agent's turn",
    "Shift+Tab": "next approval mode",
    "y / a / n / m": "on a pending tool call: allow once, always, deny, deny with a message",
    "Enter or click": "on a tool call: show its output",
    "Ctrl+P": "the command palette: commands, approval modes, theme",
    "Ctrl+C": "copy the selection; twice quits",
}

HELP = "\n".join(
    ["Commands:"]
    + [f"  /{name:<9} {text}" for name, text in COMMANDS.items()]
    + ["Keys:"]
    + [f"  {key:<15} {text}" for key, text in KEYS.items()]
)


def parse(line: str) -> tuple[str, str]:
    """``/name argument…`` as (name, argument), the name lower-cased."""
    name, _, argument = line.strip()[1:].partition(" ")
    return name.lower(), argument.strip()
