"""`python -m engine roles` (who may do what, from the roles file) and `python -m engine audit` (who changed what)."""

from __future__ import annotations

from engine.access.audit import read_audit
from engine.access.guard import ACTIONS, STORE_ACTIONS, allowed
from engine.access.roles import load_roles, roles_path
from engine.commands._output import format_table, print_json
from engine.data.storage import data_dir


def _roles(args) -> int:
    path = args.roles or roles_path(args.data or data_dir())
    roles = load_roles(path)
    entries = [{"who": who, "kind": kind, "role": role, "stores": None if stores is None else list(stores)}
               for kind, table in (("email", roles.users), ("domain", roles.domains), ("group", roles.groups))
               for who, (role, stores) in table.items()]
    out = {"roles_file": str(path), "exists": path.exists(), "groups_claim": roles.groups_claim, "entries": entries}
    if args.email:
        user = roles.user_for(args.email, groups=args.group or ())
        may = [a for a in ACTIONS if allowed(user, a)]
        out["user"] = user.to_dict() | {"may": may, "store_actions_only_for": None if user.stores is None else list(user.stores)}
    if args.json:
        print_json(out)
        return 0
    print(f"roles file: {path}" + ("" if path.exists() else " (missing: nobody who signs in has a role)"))
    print(format_table([{**e, "stores": "all" if e["stores"] is None else ", ".join(map(str, e["stores"]))} for e in entries]))
    if args.email:
        u = out["user"]
        if u["role"] is None:
            print(f"{args.email}: no role (not in the roles file): may do nothing.")
        else:
            scope = "" if u["stores"] is None else f" ({', '.join(sorted(STORE_ACTIONS & set(u['may'])))} only for stores {', '.join(map(str, u['stores']))})"
            print(f"{args.email}: {u['role']}; may {', '.join(ACTIONS[a] for a in u['may'])}{scope}.")
    return 0


def _audit(args) -> int:
    entries = read_audit(args.data or data_dir(), limit=args.limit)
    if args.json:
        print_json(entries)
        return 0
    if not entries:
        print("No signed changes recorded yet (confirmations are in the ledger: `python -m engine ledger`).")
        return 0
    print(format_table([{"at": e.get("at"), "by": e.get("by"), "role": e.get("role"), "action": e.get("action")} for e in entries]))
    return 0


def register(sub) -> None:
    p = sub.add_parser("roles", help="show the roles file (who is buyer, data team, executive, admin) and what one e-mail may do")
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current); the roles file is looked for beside its state")
    p.add_argument("--roles", default=None, help="roles file (default: $KMART_ROLES, else <data>/../roles.toml, else ./roles.toml)")
    p.add_argument("--email", default=None, help="show the role and permissions of this signed-in e-mail")
    p.add_argument("--group", action="append", help="a group the --email belongs to (repeatable), as the identity provider sends it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_roles)

    a = sub.add_parser("audit", help="who uploaded data, rebuilt the Ask index or ran the batch, and when (newest first)")
    a.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    a.add_argument("--limit", type=int, default=None)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_audit)
