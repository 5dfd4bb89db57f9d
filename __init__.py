"""ranksuite: domain-specific neural rankers that run offline.

The distribution has one import root, ``ranksuite``, mapped onto the repository's top-level folders
(``cli``, ``shared``, ``domains``, ``datasets``) so that no generic top-level name is squatted.
"""

from __future__ import annotations

__version__ = "0.1.0"
