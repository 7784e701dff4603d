"""The dashboard's users: password hashing, the user store, login throttling, the shared secret.

Only the dashboard (fmd.blueprints) and ``flask fmd create-user`` import this package; ``fmd.bind`` never
does. Everything except ``login.py`` is free of Flask and works on ``fmd.store.Store``.
"""
