"""The interactive app (``shipmate`` with no command): a Textual front-end of the core.

Only this package imports Textual; it renders the core's events and answers its approvals,
and holds no agent logic.
"""
