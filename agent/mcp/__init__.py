"""MCP: the user's own tool servers (Model Context Protocol) inside a session.

``config`` says which servers there are (the user's, the repository's, the editor's),
``trust`` which of the repository's may start, ``connection`` runs one server, ``servers``
all of a session's, and ``tools`` turns a server's tools into Shipmate tools.
"""
