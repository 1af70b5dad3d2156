"""Where ``payflows demo`` finds its sample CSVs, from a checkout and from an installed package.

The samples live in the repository's ``data/samples/`` (the README's ``payflows import`` examples
name them there). A wheel cannot put them beside the code, so the build installs a copy as data
files under ``<prefix>/share/payflows/samples`` (``[tool.setuptools.data-files]``). The demo
takes, in order: ``PAYFLOWS_SAMPLES_DIR`` when set, the checkout's folder when this module runs
from one, the installed copy (the environment's prefix, then the user's base for ``pip install
--user``).
"""

from __future__ import annotations

import site
import sys
from pathlib import Path

from payflows.settings import ConfigurationError, Settings, load_settings

__all__ = ["REQUIRED", "installed_samples_dirs", "samples_dir"]

#: Files the demo reads; a folder without them is not a samples folder.
REQUIRED = ("customers.csv", "payment_methods.csv", "sandbox_tokens.csv")

_CHECKOUT = Path(__file__).resolve().parents[1] / "data" / "samples"
_SHARE = Path("share") / "payflows" / "samples"


def installed_samples_dirs() -> list[Path]:
    """Where an installed package keeps its copy (environment first, then ``--user``)."""
    return [Path(sys.prefix) / _SHARE, Path(site.getuserbase()) / _SHARE]


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED)


def samples_dir(settings: Settings | None = None) -> Path:
    """The folder of the demo's sample CSVs; a :class:`ConfigurationError` names what is wrong."""
    configured = (settings or load_settings()).samples_dir
    if configured:
        folder = Path(configured).expanduser()
        if not _complete(folder):
            raise ConfigurationError(
                f"PAYFLOWS_SAMPLES_DIR: {folder} does not hold the sample CSVs "
                f"({', '.join(REQUIRED)})"
            )
        return folder
    for folder in (_CHECKOUT, *installed_samples_dirs()):
        if _complete(folder):
            return folder
    raise ConfigurationError(
        "PAYFLOWS_SAMPLES_DIR: the sample CSVs are neither in a checkout nor installed "
        f"(looked in {_CHECKOUT} and {', '.join(map(str, installed_samples_dirs()))}); "
        "point PAYFLOWS_SAMPLES_DIR at a copy of data/samples"
    )
