from __future__ import annotations

from facade.cli import main

raise SystemExit(main())
