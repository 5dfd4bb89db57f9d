"""Maps the repository's top-level folders onto one import root, ``ranksuite``.

The design card wants ``cli/``, ``shared/``, ``domains/`` and ``datasets/`` at the top of the repository, but those
names must not become top-level modules of their own (they collide with other distributions). So the repository
root *is* the package ``ranksuite`` and each folder is a subpackage of it.
"""

from setuptools import find_packages, setup

SUBPACKAGES = ("cli", "shared", "domains", "datasets")
found = find_packages(where=".", include=[f"{p}*" for p in SUBPACKAGES])
setup(packages=["ranksuite", *[f"ranksuite.{p}" for p in found]], package_dir={"ranksuite": "."})
