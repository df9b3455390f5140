"""Run configs round-trip through TOML and reject what they do not know."""

from __future__ import annotations

import pytest

from sulfml.config import RunConfig, default_config_path


def test_default_config_reads_and_round_trips(tmp_path):
    cfg = RunConfig.from_toml(default_config_path())
    assert cfg.preset == "chemistry-v1" and cfg.cv.group_by == "paper"
    assert set(cfg.params) == {"log10_sigma", "ea_eV"}
    # both targets use the kNN target features (issue 7); Ea with the absolute-error objective
    assert cfg.params["log10_sigma"]["knn_k"] == 5 and cfg.params["ea_eV"]["knn_k"] == 20
    assert cfg.params["ea_eV"]["objective"] == "reg:absoluteerror"
    back = RunConfig.from_toml(cfg.write(tmp_path / "c.toml"))
    assert back == cfg and back.digest == cfg.digest
    assert cfg.with_params("ea_eV", {"max_depth": 2}).digest != cfg.digest


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="unknown targets"):
        RunConfig.from_dict({"targets": {"band_gap": {}}})
