"""Regenerate conf/sorabeat.reference.yml from the settings declarations."""

from __future__ import annotations

from pathlib import Path

from sorabeat.config.reference import render_reference
from sorabeat.pipeline.settings import Settings

TARGET = Path(__file__).resolve().parent.parent / "conf" / "sorabeat.reference.yml"

if __name__ == "__main__":
    TARGET.write_text(render_reference(Settings), encoding="utf-8")
    print(f"wrote {TARGET}")
