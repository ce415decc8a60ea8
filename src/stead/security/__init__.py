"""Who may do what: teams and ownership, roles, principals, API tokens.

Security sits just above ``core``: the registry and serving both ask it whether an actor
may act, so it may not depend on them.
"""
