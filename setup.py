"""Only the package list lives here, computed from the tree; everything else is in setup.cfg.

setup.cfg cannot say "every package under fmd/, plus migrations/ shipped as fmd.migrations" (``find:`` does
not rename, and a hand-kept list forgets new subpackages). tests/test_packaging.py checks the wheel.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["fmd", "fmd.*"])
packages += ["fmd." + name for name in find_packages(include=["migrations", "migrations.*"])]

setup(packages=packages)
