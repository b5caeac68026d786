"""`python -m ehmap ...`: the pipeline without the UI."""

from ehmap.cli import main

raise SystemExit(main())
