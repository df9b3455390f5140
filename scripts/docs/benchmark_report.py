"""Run every benchmark with each given config and regenerate experiments/results/README.md from their files.

Usage: .venv/bin/python scripts/docs/benchmark_report.py [--no-run] [--only NAME ...] [--seeds NAME=N ...]
                                                  [CONFIG.toml ...]
(default: src/sulfml/configs/tuned.toml, the config the main job trains; --no-run rewrites the report from
the metrics.json files already there; --only runs those benchmarks and reads the others' files; --seeds gives
one benchmark another number of seeds). Each run writes `measured_at.json` (the commit of the checkout and the
date) beside its metrics, and the report names it.
Each number in the report comes from `metrics.json` written by the command printed beside it. Every benchmark
runs with 3 seeds (the config's seed, then 7 and 2026 for the shipped configs' 42); the headline numbers are
the mean ± sample standard deviation (min–max) over them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sulfml.parse.state import STATES as _STATES

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "results"
BENCHMARKS = ["obelix", "ea", "review", "family", "intervals", "temperature", "sulfides", "polymorphs"]
SULFIDE_FAMILIES = ["argyrodite", "LGPS", "thio-LISICON", "Li2S-P2S5", "other"]
STATES = list(_STATES)
DEFAULT_SEEDS = 3  # `sulfml benchmark`'s default number of seeds


def commit() -> str:
    """The checkout's commit, with "+changes" when src/ differs from it."""
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return sha.stdout.strip() + ("+changes" if dirty else "")


def run(name: str, config: Path, rerun: bool = True, seeds: int | None = None) -> tuple[dict, str]:
    out = RESULTS / config.stem / name
    cmd = ["sulfml", "benchmark", name, "--config", str(config.relative_to(ROOT)), "--output",
           str(out.relative_to(ROOT))]
    if rerun:
        at = commit()
        extra = ["--seeds", str(seeds)] if seeds else []
        subprocess.run([sys.executable, "-m", "sulfml", *cmd[1:], *extra], cwd=ROOT, check=True)
        (out / "measured_at.json").write_text(json.dumps(
            {"commit": at, "date": datetime.now(UTC).date().isoformat()}) + "\n")
    metrics = json.loads((out / "metrics.json").read_text())
    stamp = out / "measured_at.json"
    metrics["measured_at"] = json.loads(stamp.read_text()) if stamp.exists() else {"commit": "not recorded"}
    seeds = metrics.get("seeds") or []
    if len(seeds) not in (0, DEFAULT_SEEDS):  # the command that gives these numbers names its seed count
        cmd += ["--seeds", str(len(seeds))]
    return metrics, shlex.join(cmd)


def fmt(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def spread(m: dict, path: str = "mae", digits: int = 3) -> str:
    """A metric (dotted path into metrics.json) as mean ± sample std (min–max) over the seeds; the plain value
    for a run of one seed (or one written before benchmarks repeated over seeds)."""
    s = m.get("spread", {}).get(path)
    if s is None or len(m.get("seeds", [])) < 2:
        value = m
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        return fmt(value, digits)
    d = digits
    return f"{s['mean']:.{d}f} ± {s['std']:.{d}f} ({s['min']:.{d}f}–{s['max']:.{d}f})"


def seeds_of(m: dict) -> str:
    seeds = m.get("seeds")
    return f"seeds {', '.join(map(str, seeds))}; " if seeds else ""


def section(name: str, runs: dict[str, tuple[dict, str]]) -> list[str]:
    lines = []
    if name == "obelix":
        lines += ["## `obelix`: the official OBELiX test split (121 entries)", "",
                  "Trained on OBELiX train + review + Liverpool + Laskowski, minus every row whose composition "
                  "(fractional, 3 decimals) or paper (DOI) is in the test set. MAE in log10(S/cm); the 8 censored "
                  "test values (`<1E-10`) count as −15, as the OBELiX authors score them.", "",
                  "| model | MAE | censoring-aware MAE | MAE, 67-entry CIF subset | CIF subset, uncensored | "
                  "the other entries | RMSE | R² | Spearman | n |",
                  "|---|---|---|---|---|---|---|---|---|---|",
                  "| OBELiX paper: random forest | 1.59 | | | | | | | | 121 |",
                  "| OBELiX paper: MLP | 1.72 | | | | | | | | 121 |",
                  "| OBELiX paper: graph networks | | | ≥ 2.7 | | | | | | 67 |",
                  "| reference given in the issue: magpie + XGBoost, merged data | ≈ 1.27 | | | | | | | | 121 |"]
        for cfg, (m, _) in runs.items():
            subsets = (f"{fmt(m.get('mae_cif_subset_uncensored'))} (n={m.get('n_cif_subset_uncensored', '–')}) | "
                       f"{fmt(m.get('mae_no_cif'))} (n={m.get('n_no_cif', '–')})")
            lines.append(f"| sulfml, config `{cfg}` | **{spread(m)}** | {fmt(m['mae_censored_aware'])} | "
                         f"{fmt(m['mae_cif_subset'])} | {subsets} | {fmt(m['rmse'])} | {fmt(m['r2'])} | "
                         f"{fmt(m['spearman'])} | {m['n']} |")
        lines += ["", "Every test entry with a CIF is predicted with it, as `sulfml predict --cif` would be (the "
                  "shipped composition model reads its composition only); the censored entries count as −15 and "
                  "carry much of the CIF subset's error, hence its uncensored column."]
        lines += ["", "Calibrated intervals on the same test split (uncensored entries; the model calibrated as "
                  "`sulfml train` calibrates, on its own training rows only):", "",
                  "| config | nominal | coverage | median width | mean width | censored entries whose interval reaches "
                  "below the bound | n |", "|---|---|---|---|---|---|---|"]
        for cfg, (m, _) in runs.items():
            if "interval_coverage" in m:
                lines.append(f"| `{cfg}` | {m['interval_nominal']:.0%} | **{m['interval_coverage']:.1%}** | "
                             f"**{fmt(m['interval_median_width'], 2)}** | {fmt(m['interval_mean_width'], 2)} | "
                             f"{m['interval_consistent_censored']:.0%} | {m['interval_n']} |")
    elif name == "ea":
        lines += ["## `ea`: activation energy, grouped 5-fold CV", "",
                  "Every material with a reported Ea; materials that share any paper (DOI or review reference) "
                  "or their composition are one fold group, so no test material's paper or composition is trained "
                  "on. MAE in eV.", "",
                  "| model | data | MAE | mean predictor MAE | RMSE | R² | Spearman | n |", "|---|---|---|---|---|---|---|---|",
                  "| reference given in the issue: magpie + XGBoost | Laskowski rows | ≈ 0.099 | ≈ 0.159 | | | | |"]
        for cfg, (m, _) in runs.items():
            lines.append(f"| sulfml, `{cfg}` | all sources | **{spread(m)}** | {fmt(m['mae_mean_predictor'])} | "
                         f"{fmt(m['rmse'])} | {fmt(m['r2'])} | {fmt(m['spearman'])} | {m['n']} |")
            lines.append(f"| sulfml, `{cfg}` | Laskowski rows only | **{fmt(m['mae_laskowski_only'])}** | "
                         f"{fmt(m['mae_mean_predictor_laskowski_only'])} | | | | {m['n_laskowski_only']} |")
    elif name == "review":
        lines += ["## `review`: the sulfides of Su et al. 2022, Tables 1 and 2", "",
                  "Trained on every other source minus the review's compositions; predicts each table row "
                  "(rows without proportions are rejected on load). MAE of log10 σ per table, and of Ea for Table 2.", "",
                  "| config | MAE log10 σ, Table 1 | MAE log10 σ, Table 2 | MAE Ea, Table 2 (eV) | MAE log10 σ, both | n |",
                  "|---|---|---|---|---|---|"]
        for cfg, (m, _) in runs.items():
            lines.append(f"| `{cfg}` | **{fmt(m['mae_table1'])}** (n={m['n_table1']}) | **{fmt(m['mae_table2'])}** "
                         f"(n={m['n_table2']}) | **{fmt(m['mae_ea_table2'])}** (n={m['n_ea_table2']}) | {spread(m)} | "
                         f"{m['n']} |")
    elif name == "intervals":
        lines += ["## `intervals`: coverage of the calibrated intervals for new papers", "",
                  "Outer grouped 5-fold CV, materials that share any paper or their composition in one group; "
                  "each outer model is trained and calibrated exactly as `sulfml train` does it (inner grouped CV, "
                  "applicability domain, normalised conformal with a distance-first scale) on the other groups "
                  "only, and its intervals are scored on the held-out ones; the same for log10 σ on the `family` "
                  "benchmark's leave-one-family-out folds. Targets: coverage "
                  "within ±5 points of nominal on both, median σ width under 3 log10 units.", "",
                  "| config | target | nominal | coverage | median width | mean width | in domain: coverage / median "
                  "width (n) | outside domain: coverage / median width (n) |", "|---|---|---|---|---|---|---|---|"]
        for cfg, (m, _) in runs.items():
            for key, label, d in (("sigma", "log10 σ", 2), ("ea", "Ea (eV)", 3)):
                lines.append(
                    f"| `{cfg}` | {label} | {m['nominal']:.0%} | **{m[f'{key}_coverage']:.1%}** | "
                    f"**{fmt(m[f'{key}_median_width'], d)}** | {fmt(m[f'{key}_mean_width'], d)} | "
                    f"{m[f'{key}_coverage_in_domain']:.1%} / {fmt(m[f'{key}_median_width_in_domain'], d)} "
                    f"({m[f'{key}_n_in_domain']:.0f}) | {_pct(m[f'{key}_coverage_outside_domain'])} / "
                    f"{fmt(m[f'{key}_median_width_outside_domain'], d)} ({m[f'{key}_n_outside_domain']:.0f}) |")
        if any("sigma_family_coverage" in m for m, _ in runs.values()):
            lines += ["", "Leave-one-family-out folds (log10 σ):", "",
                      "| config | coverage | median width | n | by family: coverage / median width (n) |",
                      "|---|---|---|---|---|"]
            for cfg, (m, _) in runs.items():
                if "sigma_family_coverage" not in m:
                    continue
                by = "; ".join(f"{f} {_pct(v['coverage'])} / {fmt(v['median_width'], 2)} ({v['n']})"
                               for f, v in m.get("sigma_family_by_family", {}).items())
                lines.append(f"| `{cfg}` | **{_pct(m['sigma_family_coverage'])}** | "
                             f"**{fmt(m['sigma_family_median_width'], 2)}** | {m['sigma_family_n']} | {by} |")
    elif name == "temperature":
        lines += ["## `temperature`: σ away from room temperature, for held-out materials", "",
                  "Every Liverpool measurement taken away from room temperature; its materials are split into "
                  "paper-grouped folds, and each fold's models are trained without those compositions and papers. "
                  "`sulfml predict` then gives σ at the measured temperature from the room-temperature prediction "
                  "and the predicted Ea (σT form, shipped), beside the plain σ form and no shift at all. "
                  "MAE in log10(S/cm); coverage of the shifted 90 % interval.", ""]
        for cfg, (m, _) in runs.items():
            lines += [f"Config `{cfg}`: {m['n']} measurements of {m['n_materials']} materials; MAE "
                      f"**{spread(m)}** (σ form {fmt(m['mae_sigma_form'])}, no shift {fmt(m['mae_no_shift'])}), "
                      f"interval coverage {m['interval_coverage']:.1%}.", "",
                      "| temperature | n | MAE, σT form | MAE, σ form | MAE, no shift | interval coverage |",
                      "|---|---|---|---|---|---|"]
            # metrics.json sorts its keys; order the bins by temperature again
            for b, v in sorted(m["by_temperature"].items(), key=lambda kv: float(kv[0].split("-")[0])):
                lines.append(f"| {b} | {v['n']} | **{fmt(v['mae'])}** | {fmt(v['mae_sigma_form'])} | "
                             f"{fmt(v['mae_no_shift'])} | {v['coverage']:.1%} |")
            lines.append("")
    elif name == "sulfides":
        lines += ["## `sulfides`: the Li sulfides, grouped 5-fold CV trained on everything else", "",
                  "Every Li material whose composition holds S is tested once. Materials that share any paper "
                  "(DOI or review reference) or their composition are one group (`leak_groups`), and the groups "
                  "are split into 5 folds; each fold's model is trained on every other material, of every source "
                  "and chemistry, so nothing that shares a paper or composition with a test sulfide is trained on. "
                  "MAE in log10(S/cm), as mean ± sample standard deviation (min–max) over the seeds; a call is "
                  "right when prediction and measurement are on the same side of 1e-4 (or 1e-3) S/cm. The mean "
                  "predictor predicts each fold's training sulfides' mean.", "",
                  "| config | MAE | Spearman ρ | call σ > 1e-4 S/cm: accuracy (share above) | "
                  "call σ > 1e-3 S/cm: accuracy (share above) | mean predictor MAE | n |",
                  "|---|---|---|---|---|---|---|"]
        for cfg, (m, _) in runs.items():
            lines.append(f"| `{cfg}` | **{spread(m)}** | {spread(m, 'spearman')} | "
                         f"{_pct(m['call_accuracy_above_1e-4'])} ({_pct(m['share_above_1e-4'])}) | "
                         f"{_pct(m['call_accuracy_above_1e-3'])} ({_pct(m['share_above_1e-3'])}) | "
                         f"{fmt(m['mae_mean_predictor'])} | {m['n']} |")
        lines += ["", "MAE by family (data label when it names a family, else the composition pattern; "
                  "thiophosphates reported as Li2S–P2S5):", "",
                  "| config | " + " | ".join(f.replace("-P2S5", "–P2S5") for f in SULFIDE_FAMILIES) + " |",
                  "|---|" + "---|" * len(SULFIDE_FAMILIES)]
        for cfg, (m, _) in runs.items():
            cells = [f"{spread(m, f'by_family.{f}.mae')} (n={m['by_family'][f]['n']})" for f in SULFIDE_FAMILIES]
            lines.append(f"| `{cfg}` | " + " | ".join(cells) + " |")
        for cfg, (m, _) in runs.items():
            if "by_state" in m:
                # metrics.json sorts its keys; the states in their own order, then any other value
                states = sorted(m["by_state"], key=lambda st: (STATES.index(st) if st in STATES else len(STATES), st))
                lines += ["", f"MAE by state, config `{cfg}`:", "", "| " + " | ".join(states) + " |",
                          "|" + "---|" * len(states),
                          "| " + " | ".join(f"{spread(m, f'by_state.{st}.mae')} (n={m['by_state'][st]['n']})"
                                            for st in states) + " |"]
            else:
                lines += ["", f"By state, config `{cfg}`: {m['info'].get('by_state', 'no state labels')}."]
    elif name == "polymorphs":
        lines += ["## `polymorphs`: one composition, two space groups", "",
                  "The compositions the data hold in two or more space groups at room temperature (a polymorph's "
                  "value: its papers' median, one value per paper). Each composition is held out with every paper "
                  "that measured it (in folds of compositions), and its polymorphs are predicted from the "
                  "composition, the crystalline state and the space group: by the space-group model "
                  "(`structure-v2`, trained on each polymorph apart) and by the shipped composition model, which "
                  "gives one answer per composition and can only tie. A pair more than 0.5 decades apart is "
                  "ordered right when the predicted order is the measured one; a tie is wrong. ≥ 70 % would show "
                  "that the space group is learned.", "",
                  "| config | pairs > 0.5 decades apart | ordered right: space-group model | ordered right: composition "
                  "model (ties) | MAE over the polymorphs: space-group / composition | polymorphs (compositions) |",
                  "|---|---|---|---|---|---|"]
        for cfg, (m, _) in runs.items():
            lines.append(f"| `{cfg}` | {m['n_pairs_apart']} of {m['n_pairs']} | "
                         f"**{_pct(m['sign_accuracy'])}** (± {_pct(m['spread']['sign_accuracy']['std'])}) | "
                         f"{_pct(m['sign_accuracy_composition'])} ({m['n_ties_composition']} ties) | "
                         f"{spread(m)} / {spread(m, 'mae_composition')} | {m['n_polymorphs']} "
                         f"({m['n_compositions']}) |")
    else:
        fams = ["argyrodite", "lgps", "thio_lisicon", "thiophosphate"]
        lines += ["## `family`: leave one sulfide family out", "",
                  "Each family in turn is held out (with every paper that reports one of its members) and predicted "
                  "by a model trained on the rest; beside it, the MAE of the same materials under grouped "
                  "CV (materials sharing a paper or composition in one group). The gap is what the model loses on a family it has never seen. MAE in log10(S/cm).", "",
                  "| config | " + " | ".join(f"{f}: held out / in CV (n)" for f in fams) + " | pooled held out / in CV |",
                  "|---|" + "---|" * (len(fams) + 1)]
        for cfg, (m, _) in runs.items():
            cells = [f"**{fmt(m[f'mae_lofo_{f}'])}** / {fmt(m[f'mae_cv_{f}'])} ({m[f'n_{f}']})" for f in fams]
            lines.append(f"| `{cfg}` | " + " | ".join(cells) +
                         f" | **{spread(m)}** / {fmt(m['mae_grouped_cv_same_materials'])} |")
    lines += ["", "Commands:", ""] + [f"- `{cmd}` ({seeds_of(m)}{m['info']['seconds']} s; measured at commit "
                                      f"{m['measured_at']['commit']})" for _, (m, cmd) in runs.items()] + [""]
    return lines


def _pct(x) -> str:
    return "–" if x is None or x != x else f"{x:.1%}"


def screen_section(path: Path) -> list[str]:
    """The worked screening example (written by scripts/docs/screen_example.py), headings one level down."""
    if not path.exists():
        return []
    body = path.read_text(encoding="utf-8").splitlines()
    lines = ["## `screen`: worked example, argyrodite Li6PS5X", "",
             f"From [`{path.name}`]({path.name}), regenerated by `PYTHONPATH=src .venv/bin/python "
             "scripts/docs/screen_example.py` with the shipped bundle.", ""]
    for line in body[1:]:  # its own title is replaced by the heading above
        lines.append("#" + line if line.startswith("## ") else line)
    return [*lines, ""]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*")
    ap.add_argument("--no-run", action="store_true", help="rewrite the report from the files already there")
    ap.add_argument("--only", action="append", choices=BENCHMARKS, help="run only these benchmarks")
    ap.add_argument("--seeds", action="append", default=[], metavar="NAME=N", help="seeds of one benchmark")
    args = ap.parse_args(argv)
    seeds = {k: int(v) for k, v in (item.split("=", 1) for item in args.seeds)}
    configs = [Path(a).resolve() for a in args.configs] or [ROOT / "src/sulfml/configs/tuned.toml"]
    results = {name: {c.stem: run(name, c, not args.no_run and (not args.only or name in args.only),
                                  seeds.get(name)) for c in configs} for name in BENCHMARKS}
    lines = ["# Benchmark results", "",
             "Generated by `.venv/bin/python scripts/docs/benchmark_report.py` — do not edit by hand. Each benchmark "
             "directory holds `metrics.json`, `predictions.csv`, `training_set.csv` (every training row, for "
             "audit) and `parity.png`; each run is also logged to MLflow with the tag `sulfml.benchmark`. "
             "Published anchors are quoted as given; ours are measured by the commands listed. The accuracy "
             "ablation (every idea tried, kept or not) is in [`ablation.md`](ablation.md).", ""]
    for name in BENCHMARKS:
        lines += section(name, results[name])
    lines += screen_section(RESULTS / "screen_example.md")
    (RESULTS / "README.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
