"""Files that usually hold credentials: reading them needs a person's approval."""

from __future__ import annotations

from fnmatch import fnmatchcase

SECRET_DIRS = frozenset({".ssh", ".aws", ".gnupg"})
SECRET_NAMES = (
    "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", "id_ecdsa*", "id_dsa*",
    ".netrc", ".pypirc", ".npmrc", ".git-credentials", "environ",
)  # fmt: skip
ENV_EXAMPLES = frozenset({".env.example", ".env.sample", ".env.template"})


def is_secret_path(path: str) -> bool:
    """Whether ``path`` names a file that usually holds credentials (best effort)."""
    parts = path.lower().split("/")
    if SECRET_DIRS.intersection(parts):
        return True
    name = parts[-1]
    if name in ENV_EXAMPLES:
        return False
    if name == ".env" or name.startswith(".env."):
        return True
    return any(fnmatchcase(name, pattern) for pattern in SECRET_NAMES)
