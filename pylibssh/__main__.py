"""``python -m pylibssh serve ...`` (see pylibssh/cli.py)."""

import sys

from .cli import main

sys.exit(main())
