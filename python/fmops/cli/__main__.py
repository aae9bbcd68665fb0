"""`python -m fmops.cli`: how torchrun starts the command on each process (it runs a module, not a script)."""

from fmops.cli import main

raise SystemExit(main())
