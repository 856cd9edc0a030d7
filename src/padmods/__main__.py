"""``python -m padmods``: the same command line as the ``padmods`` console script."""

from __future__ import annotations

from padmods.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
