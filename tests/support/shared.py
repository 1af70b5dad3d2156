"""Where the workplace's shared reference files are: beside the checkout, as CI lays them."""

from __future__ import annotations

from pathlib import Path

__all__ = ["WEBHOOK_SAMPLES"]

_ROOT = Path(__file__).resolve().parents[2]


def _shared() -> Path:
    for candidate in (_ROOT.parent / "shared", Path("/work/shared")):
        if (candidate / "precium").is_dir():
            return candidate
    return _ROOT.parent / "shared"


#: The eight real webhook bodies the platform sent (shared/precium/webhook-samples).
WEBHOOK_SAMPLES = _shared() / "precium" / "webhook-samples"
