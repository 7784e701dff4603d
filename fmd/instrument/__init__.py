"""The monitored side of fmd: request hooks, levels, the recorder queue and its writer thread.

Nothing here imports the dashboard (blueprints, charts, templates).
"""

from .hooks import install

__all__ = ["install"]
