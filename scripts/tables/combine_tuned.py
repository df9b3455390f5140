"""Write src/sulfml/configs/tuned.toml: the tuned hyperparameters of both targets in one run config.

`sulfml tune` writes one config per target (tuned-log10_sigma.toml, tuned-ea_eV.toml), each with the
other target left at its base values; the main job and the benchmark report train both targets at once.
Usage: .venv/bin/python scripts/tables/combine_tuned.py
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sulfml.config import RunConfig

CONFIGS = Path(__file__).resolve().parents[2] / "src" / "sulfml" / "configs"


def main() -> None:
    sigma = RunConfig.from_toml(CONFIGS / "tuned-log10_sigma.toml")
    ea = RunConfig.from_toml(CONFIGS / "tuned-ea_eV.toml")
    if replace(sigma, name="", params={}) != replace(ea, name="", params={}):
        raise SystemExit("the two tuned configs differ beyond their [targets.*] tables; tune them from the same base")
    combined = replace(sigma.with_params("ea_eV", ea.params["ea_eV"]), name="tuned")
    path = CONFIGS / "tuned.toml"
    path.write_text("# Written by scripts/tables/combine_tuned.py: [targets.log10_sigma] (with its knn table) from\n"
                    "# tuned-log10_sigma.toml, [targets.ea_eV] (with its knn table) from tuned-ea_eV.toml (both\n"
                    "# written by `sulfml tune`); every other section is the same in both.\n" + combined.to_toml())
    print(f"wrote {path}")


if __name__ == "__main__":
    import argparse

    # no options: --help shows the docstring, and nothing is run
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
