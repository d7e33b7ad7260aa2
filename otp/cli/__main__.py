"""``python -m otp.cli``: the same as the ``otp-node`` command."""

from __future__ import annotations

import sys

from otp.cli import main

if __name__ == "__main__":
    sys.exit(main())
