"""The screen's settings are defined once (`ScreenOptions`): the `screen` command's options and the web API's
screen request take their defaults, choices and help from it, and the interval labels from the models' card."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from sulfml.errors import ScreenError
from sulfml.parse.state import STATES
from sulfml.service.output import coverage_label
from sulfml.workflows.screen import (
    DEFAULTS,
    RANK_LABELS,
    RANKS,
    ScreenOptions,
    Sweep,
    option_choices,
    option_help,
    screen_settings,
)

# ScreenOptions' settings by their command-line option and their web API request field.
FLAGS = {"max_fraction": "--max-fraction", "step": "--step", "top": "--top", "per_dopant": "--per-dopant",
         "rank": "--rank", "temperature_c": "--temperature-c", "state": "--state"}
FIELDS = {"max_fraction": "max_fraction", "step": "step", "top": "top", "per_dopant": "per_dopant", "rank": "rank",
          "temperature_c": "temperature_C", "state": "state"}


def _screen_actions() -> dict[str, argparse.Action]:
    from sulfml.cli import screen_cmd

    parser = argparse.ArgumentParser()
    screen_cmd.register(parser.add_subparsers())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["screen"]
    return {flag: a for a in sub._actions for flag in a.option_strings}


def test_every_setting_has_an_option_and_a_request_field():
    assert {f.name for f in dataclasses.fields(ScreenOptions)} == set(FLAGS) == set(FIELDS)


@pytest.mark.parametrize("name", list(FLAGS))
def test_the_command_line_takes_the_defaults_choices_and_help_from_the_one_definition(name):
    action = _screen_actions()[FLAGS[name]]
    assert action.default == getattr(DEFAULTS, name)
    assert (tuple(action.choices) if action.choices is not None else None) == option_choices(name)
    help_text = (action.help or "").replace("%%", "%")
    assert help_text.startswith(option_help(name))


@pytest.mark.parametrize("name", list(FIELDS))
def test_the_web_requests_model_takes_the_defaults_choices_and_help_from_the_one_definition(name):
    pytest.importorskip("fastapi")
    from sulfml.server.app import ScreenRequest

    schema = ScreenRequest.model_json_schema()
    field = ScreenRequest.model_fields[FIELDS[name]]
    assert field.default == getattr(DEFAULTS, name) and field.description == option_help(name)
    prop = schema["properties"][FIELDS[name]]
    enums = [e for part in [prop, *prop.get("anyOf", [])] for e in part.get("enum", [])]
    assert tuple(enums) == (option_choices(name) or ())


def test_the_choices_are_the_rankings_and_the_states():
    assert option_choices("rank") == tuple(RANKS) == tuple(RANK_LABELS) and option_choices("state") == STATES
    assert option_choices("top") is None


@pytest.mark.parametrize("bad", [{"rank": "best"}, {"state": "liquid"}, {"top": 0}, {"per_dopant": -1}])
def test_a_setting_outside_its_choices_is_refused(bad):
    with pytest.raises(ScreenError) as info:
        ScreenOptions(**bad)
    assert "--" not in str(info.value)  # library messages never name command-line flags


def test_the_sweep_takes_its_fraction_defaults_from_the_definition():
    sweep = Sweep("Li3PS4", {"P": ["Si"]})
    assert (sweep.max_fraction, sweep.step) == (DEFAULTS.max_fraction, DEFAULTS.step)
    assert len(sweep.fractions()) == round(DEFAULTS.max_fraction / DEFAULTS.step)


def test_the_settings_as_a_form_shows_them():
    settings = screen_settings()
    assert {n: o["default"] for n, o in settings["options"].items()} == dataclasses.asdict(DEFAULTS)
    assert settings["options"]["state"]["choices"] == STATES
    assert [r["label"] for r in settings["ranks"].values()] == [RANK_LABELS[n] for n in RANKS]


@pytest.mark.parametrize(("coverage", "label"), [(0.9, "90 %"), (0.8, "80 %"), (0.95, "95 %"), (0.683, "68.3 %")])
def test_the_coverage_label(coverage, label):
    assert coverage_label(coverage) == label
