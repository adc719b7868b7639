from jackstop.cli import main

raise SystemExit(main())
