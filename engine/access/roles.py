"""The roles file (``roles.toml``): who is a buyer of which stores, who is on the data team, who only reads.

A signed-in user is known by the e-mail (and optionally the groups) that the identity provider
puts in their ID token; this module maps them to a ``User`` with a role and stores. Without
sign-in (no ``[auth]`` in ``.streamlit/secrets.toml``) the app is in single-user local mode and
the user is ``local_user()``: the OS user, with the admin role.

Where the file is: ``$KMART_ROLES`` if set, else ``roles.toml`` beside the data's ``state``
folder (``<data>/../roles.toml``, e.g. ``data/roles.toml``), else ``roles.toml`` at the project
root. The format (see docs/auth.md)::

    groups_claim = "groups"            # optional: the ID-token claim that lists a user's groups

    [users."ana@kmart.example"]
    role = "buyer"
    stores = [44, 45]

    [users."@kmart.example"]           # a key starting with @: anyone signed in from that domain
    role = "executive"

    [groups."kmart-data-team"]
    role = "data"

An exact e-mail wins over a group, a group over a domain; among groups the first listed wins.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.storage import data_dir

ROLES_FILE = "roles.toml"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder with Home.py
ROLES = {
    "buyer": "confirms orders and records stock counts and receipts for their own stores, and reads everything",
    "data": "uploads data, rebuilds the Ask index and runs the nightly batch, and reads orders of every store without changing them",
    "executive": "reads everything and changes nothing",
    "admin": "may do everything",
}
LOCAL_NOTE = "single-user local mode"


@dataclass(frozen=True)
class User:
    """Who is using the app: ``stores`` None means every store; ``local`` is the no-sign-in user."""

    email: str
    role: str | None
    name: str = ""
    stores: tuple[int, ...] | None = None
    groups: tuple[str, ...] = ()
    local: bool = False
    unverified: bool = False  # the provider said email_verified = false: no role, whatever the roles file says

    @property
    def label(self) -> str:
        """How a refusal names the user: ``ana@kmart.example (buyer of store 44)``."""
        if self.local:
            return f"{self.email} ({LOCAL_NOTE})"
        if self.role is None:
            return f"{self.email} (no role)"
        if self.role == "buyer":
            stores = self.stores or ()
            where = "no store" if not stores else f"store{'s' if len(stores) > 1 else ''} {', '.join(map(str, stores))}"
            return f"{self.email} (buyer of {where})"
        article = "an" if self.role[0] in "aeiou" else "a"
        return f"{self.email} ({article} {self.role})" if self.role != "data" else f"{self.email} (data team)"

    def to_dict(self) -> dict:
        return {"email": self.email, "name": self.name, "role": self.role,
                "stores": None if self.stores is None else list(self.stores), "groups": list(self.groups), "local": self.local}


@dataclass
class Roles:
    """The parsed roles file: entries by exact e-mail, by domain (``@example.com``) and by group."""

    path: Path | None
    users: dict[str, tuple[str, tuple[int, ...] | None]] = field(default_factory=dict)
    domains: dict[str, tuple[str, tuple[int, ...] | None]] = field(default_factory=dict)
    groups: dict[str, tuple[str, tuple[int, ...] | None]] = field(default_factory=dict)
    groups_claim: str = "groups"

    def user_for(self, email: str | None, name: str | None = None, groups=()) -> User:
        """The ``User`` for a signed-in identity; role None when the roles file does not list them."""
        email = (email or "").strip()
        groups = tuple(str(g) for g in (groups or ()) if g is not None) if not isinstance(groups, str) else (groups,)
        key = email.lower()
        entry = self.users.get(key)
        if entry is None:
            entry = next((self.groups[g] for g in self.groups if g in groups), None)
        if entry is None and "@" in key:
            entry = self.domains.get("@" + key.rsplit("@", 1)[1])
        role, stores = entry if entry else (None, ())
        return User(email=email or "(no e-mail)", role=role, name=(name or "").strip(), stores=stores, groups=groups)


def signed_in_user(claims: dict, roles: Roles | None = None) -> User:
    """The ``User`` for the claims of a signed-in identity (``st.user``): e-mail, name and groups looked up in the roles file.

    An e-mail the provider marks unverified (``email_verified`` false) gets no role: anyone could type it.
    """
    roles = roles if roles is not None else load_roles()
    user = roles.user_for(claims.get("email"), claims.get("name"), claims.get(roles.groups_claim) or ())
    if claims.get("email_verified") is False or str(claims.get("email_verified")).lower() == "false":
        return User(email=user.email, role=None, name=user.name, stores=(), groups=user.groups, unverified=True)
    return user


def roles_path(data: Path | str | None = None) -> Path:
    """Where the roles file is looked for: $KMART_ROLES, else beside the data's state folder, else the project root."""
    if os.environ.get("KMART_ROLES"):
        return Path(os.environ["KMART_ROLES"]).expanduser().resolve()
    beside = (Path(data) if data else data_dir()).resolve().parent / ROLES_FILE
    if beside.exists():
        return beside
    return PROJECT_ROOT / ROLES_FILE


def _entry(where: str, value, path: Path) -> tuple[str, tuple[int, ...] | None]:
    if not isinstance(value, dict):
        raise ValueError(f"The roles file {path}: {where} must be a table with role = \"buyer\", \"data\", \"executive\" or \"admin\".")
    role = str(value.get("role", "")).strip().lower()
    if role not in ROLES:
        raise ValueError(f"The roles file {path}: {where} has role {value.get('role')!r}; write one of {', '.join(ROLES)}.")
    stores = value.get("stores")
    if role != "buyer":
        return role, None  # the other roles concern every store
    if not isinstance(stores, list) or not stores:
        raise ValueError(f"The roles file {path}: {where} is a buyer without stores; add stores = [44] (the store ids they order for).")
    try:
        ids = tuple(sorted({int(s) for s in stores if not isinstance(s, bool)}))
    except (TypeError, ValueError):
        raise ValueError(f"The roles file {path}: {where} has stores {stores!r}; write store ids as numbers, e.g. stores = [44, 45].") from None
    if len(ids) != len(stores):
        raise ValueError(f"The roles file {path}: {where} has stores {stores!r}; write each store id once, as a number.")
    return role, ids


def load_roles(path: Path | str | None = None) -> Roles:
    """Read the roles file (default: ``roles_path()``). A missing file is an empty one: nobody signed in has a role."""
    path = Path(path) if path else roles_path()
    if not path.exists():
        return Roles(path=path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"The roles file {path} is not valid TOML ({exc}); fix that line (docs/auth.md shows the format).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"The roles file {path} cannot be read ({exc}); check its permissions and that it is UTF-8 text.") from None
    unknown = sorted(set(raw) - {"users", "groups", "groups_claim"})
    if unknown:
        raise ValueError(f"The roles file {path} has unknown section(s) {', '.join(unknown)}; use [users.\"email\"] and [groups.\"name\"] tables.")
    roles = Roles(path=path, groups_claim=str(raw.get("groups_claim", "groups")))
    for who, value in (raw.get("users") or {}).items():
        key = who.strip().lower()
        target = roles.domains if key.startswith("@") else roles.users
        target[key] = _entry(f"[users.\"{who}\"]", value, path)
    for group, value in (raw.get("groups") or {}).items():
        roles.groups[str(group)] = _entry(f"[groups.\"{group}\"]", value, path)
    return roles


def local_user() -> User:
    """The user of single-user local mode (no sign-in configured): the OS user, with the admin role."""
    return User(email=os_user(), role="admin", name=os_user(), stores=None, local=True)


def os_user() -> str:
    """The OS user's name (the CLI's default for ``--by``)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def cli_user(by: str | None = None) -> User:
    """The user of a CLI command: whoever has a shell on the server may do everything; ``--by`` (default: the OS user) signs it."""
    who = (by or "").strip() or os_user()
    return User(email=who, role="admin", name=who, stores=None, local=True)
