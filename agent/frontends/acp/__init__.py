"""``shipmate acp``: Shipmate as an Agent Client Protocol agent, driven by an editor over
stdio (Zed, Neovim's CodeCompanion, JetBrains, …).

A front-end like the TUI: it turns ``Conversation`` events into session updates and answers
approvals with ``session/request_permission``; no agent logic lives here. Only this package
imports the ``acp`` SDK.
"""
