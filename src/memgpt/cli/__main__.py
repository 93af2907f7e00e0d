"""`python -m memgpt.cli`: the same as the `memgpt` command."""

from memgpt.cli.main import main

raise SystemExit(main())
