"""``python -m bench``: run the benchmark suite (see ``python -m bench --help``)."""

from .run import main

raise SystemExit(main())
