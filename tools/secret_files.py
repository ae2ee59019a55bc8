"""Files that usually hold credentials: reading them needs a person's approval, and commands
in the sandbox see them empty."""

from __future__ import annotations

import re
from fnmatch import translate

SECRET_DIRS = frozenset({".ssh", ".aws", ".gnupg"})
SECRET_NAMES = (
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "id_rsa*", "id_ed25519*",
    "id_ecdsa*", "id_dsa*", ".netrc", ".pypirc", ".npmrc", ".git-credentials", ".pgpass",
    ".vault-token", ".htpasswd", ".terraformrc", "credentials.tfrc.json", "environ",
)  # fmt: skip
ENV_EXAMPLES = frozenset({".env.example", ".env.sample", ".env.template"})
# Public certificate bundles (certifi's and others'): TLS needs them readable.
PUBLIC_BUNDLES = frozenset({"cacert.pem", "cacerts.pem", "ca-bundle.pem", "ca-certificates.pem"})
# One expression for every name pattern: the sandbox judges each file of the workspace.
_SECRET_NAME = re.compile("|".join(translate(pattern) for pattern in SECRET_NAMES))


def is_secret_path(path: str) -> bool:
    """Whether ``path`` names a file that usually holds credentials (best effort).

    Each part is judged without surrounding whitespace and case, so ``.env `` or ``.ENV``
    count as ``.env``: a name the file system may treat alike is never let through.
    """
    parts = [part.strip().lower() for part in path.split("/")]
    if SECRET_DIRS.intersection(parts):
        return True
    if ".git" in parts[:-1]:
        return True  # git's config and what it includes may hold a token (a remote's URL)
    return is_secret_name(parts[-1])


def is_secret_name(name: str) -> bool:
    """Whether a file name (no folder) usually holds credentials."""
    name = name.strip().lower()
    if name in ENV_EXAMPLES or name in PUBLIC_BUNDLES:
        return False
    if name == ".env" or name.startswith(".env."):
        return True
    return _SECRET_NAME.match(name) is not None
