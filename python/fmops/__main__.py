from fmops.cli import main

raise SystemExit(main())
