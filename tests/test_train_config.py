"""TrainConfig validation and its command-line mirror (no TensorFlow)."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from edgelstm.core.errors import ConfigError
from edgelstm.train import cli
from edgelstm.train.config import TrainConfig


def test_defaults_are_valid_and_round_trip():
    config = TrainConfig()
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.data == "synthetic" and config.maxlen == 200 and config.epochs == 3


def test_label_names_round_trip_through_json_lists():
    config = TrainConfig(label_names=["neg", "pos"])
    assert config.label_names == ("neg", "pos")
    assert TrainConfig.from_dict(config.to_dict()).label_names == ("neg", "pos")


@pytest.mark.parametrize("field, value, fragment", [
    ("epochs", 0, "[1, 10000]"),
    ("learning_rate", 0.0, "(0.0, 1.0]"),
    ("validation_split", 0.9, "[0.01, 0.5]"),
    ("dropout", -0.1, "[0.0, 0.9]"),
    ("vocab_size", 2, "[3,"),
    ("batch_size", "64", "accepted is int"),
    ("epochs", True, "accepted is int"),
    ("learning_rate", float("inf"), "not a finite number"),
    ("label_names", ("pos", "pos"), "different non-empty names"),
    ("encoding", "klingon-8", "not a known text encoding"),
    ("data", " ", "is empty"),
    ("learning_rate_schedule", "linear", "accepted are 'constant', 'cosine'"),
    ("clipnorm", -1.0, "[0.0, inf]"),
    ("embedding_dropout", 1.0, "[0.0, 0.9]"),
    ("threads", -1, "[0, 4096]"),
])
def test_bad_values_name_field_value_and_accepted_range(field, value, fragment):
    with pytest.raises(ConfigError) as caught:
        TrainConfig(**{field: value})
    message = str(caught.value)
    assert field in message and fragment in message


def test_a_per_epoch_decay_is_refused_with_the_cosine_schedule():
    with pytest.raises(ConfigError, match="learning_rate_decay=0.5 only applies to the constant schedule"):
        TrainConfig(learning_rate_schedule="cosine", learning_rate_decay=0.5)


def test_unknown_fields_are_refused_with_the_known_ones_listed():
    with pytest.raises(ConfigError, match="unknown config field.*epoch.*known fields are.*epochs"):
        TrainConfig.from_dict({"epoch": 3})


def test_every_field_has_a_command_line_option_with_the_config_default():
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args(["--out", "x"])
    assert cli.config_from_args(args) == TrainConfig()  # options left out keep the config's defaults
    for spec in dataclasses.fields(TrainConfig):
        assert "--" + spec.name.replace("_", "-") in parser.format_help()


def test_command_line_values_reach_the_config():
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args(["--out", "x", "--epochs", "2", "--label-names", "bad,good", "--restore-best",
                              "--dropout", "0.25", "--limit", "300"])
    config = cli.config_from_args(args)
    assert (config.epochs, config.label_names, config.restore_best, config.dropout, config.limit) == \
        (2, ("bad", "good"), True, 0.25, 300)
