"""Who may do what: the roles file, the signed-in user, permission checks and the guarded changes.

``roles`` reads ``roles.toml`` (email, e-mail domain or group -> role and stores) into a ``User``;
``guard`` says whether a user may do an action (``allowed``) or refuses it with one sentence
(``require``); ``audit`` appends who changed what; ``orders``, ``uploads``, ``index`` and
``batch`` wrap the engine functions that change state so each checks permission first and
signs the change. The pages and the CLI call these, never the unguarded functions directly.
"""
