"""Whether a tool call may run: approval modes, the shell-command parser, rules, approvals and
the sandbox a session gets."""
