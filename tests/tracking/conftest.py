"""What the bundle tests share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sulfml.cli import main
from sulfml.tracking.bundle import Bundle, BundleError


@pytest.fixture
def refused(capsys) -> Callable[[Path, str], str]:
    """Assert that a bundle folder is refused with `fragment` in the reason, by the library and through the
    CLI (exit 2, the reason on one line, no traceback); returns the library's message."""

    def check(folder: Path, fragment: str) -> str:
        with pytest.raises(BundleError) as exc:
            Bundle.from_dir(folder)
        message = str(exc.value)
        assert fragment in message, message
        code = main(["predict", "--models-dir", str(folder), "Li6PS5Cl"])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err and "Traceback" not in err
        return message

    return check
