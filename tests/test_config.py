import pytest

from core.config import ConfigError, RunConfig, make_config, parse_assignment


def test_defaults_are_the_reference_study():
    c = make_config()
    assert (c.train_fraction, c.epochs, c.batch_size, c.seed, c.lr) == (0.5, 40, 128, 4, 1e-3)
    assert (c.optimizer, c.regularizer, c.logit_relu, c.dataset) == ("adam", "none", False, "cifar10")


@pytest.mark.parametrize("regularizer, strength", [("l1", 1e-4), ("l2", 1e-3), ("dropout", 0.25), ("none", 0.0)])
def test_default_strength_per_regularizer(regularizer, strength):
    assert make_config({"regularizer": regularizer}).strength == strength


def test_text_values_are_typed():
    c = make_config({"lr": "0.01", "epochs": "3", "augment": "true", "optimizer": "SGD", "momentum": "0.9"})
    assert (c.lr, c.epochs, c.augment, c.optimizer, c.momentum) == (0.01, 3, True, "sgd", 0.9)


@pytest.mark.parametrize("values, field, hint", [
    ({"lr": 0}, "lr", "above 0"),
    ({"lr": -1}, "lr", "above 0"),
    ({"lr": "fast"}, "lr", "number"),
    ({"lr": "nan"}, "lr", "finite"),
    ({"train_fraction": 0}, "train_fraction", "(0, 1]"),
    ({"train_fraction": 1.5}, "train_fraction", "(0, 1]"),
    ({"epochs": 0}, "epochs", "1 or more"),
    ({"epochs": 2.5}, "epochs", "whole number"),
    ({"epochs": True}, "epochs", "whole number"),
    ({"batch_size": 0}, "batch_size", "1 to 65536"),
    ({"seed": -1}, "seed", "0 to"),
    ({"augment": "maybe"}, "augment", "true or false"),
    ({"normalize": 3}, "normalize", "true or false"),
    ({"regularizer": "l3"}, "regularizer", "none, l1, l2, dropout"),
    ({"optimizer": "rmsprop"}, "optimizer", "sgd, adam"),
    ({"dataset": "mnist"}, "dataset", "cifar10, synthetic"),
    ({"device": "tpu"}, "device", "auto, cpu, cuda"),
    ({"reg_strength": -0.1, "regularizer": "l2"}, "reg_strength", "0 or more"),
    ({"reg_strength": 1.0, "regularizer": "dropout"}, "reg_strength", "[0, 1)"),
    ({"momentum": 0.9}, "momentum", "optimizer=sgd"),
    ({"momentum": 1.0, "optimizer": "sgd"}, "momentum", "[0, 1)"),
    ({"precision": "fp8"}, "precision", "auto, fp32, bf16"),
    ({"data_dir": ""}, "data_dir", "must not be empty"),
    ({"learning_rate": 0.1}, "learning_rate", "unknown setting"),
])
def test_each_bad_value_is_one_sentence_naming_the_field(values, field, hint):
    with pytest.raises(ConfigError) as e:
        make_config(values)
    message = str(e.value)
    assert field in message and hint in message
    assert "\n" not in message


def test_cuda_asked_for_but_absent(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        make_config({"device": "cuda"})


def test_replace_validates():
    with pytest.raises(ConfigError, match="lr"):
        RunConfig().replace(lr=0)


@pytest.mark.parametrize("text, expected", [("lr=0.01", ("lr", "0.01")), ("batch-size = 64", ("batch_size", "64"))])
def test_parse_assignment(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["lr", "=3", ""])
def test_parse_assignment_rejects(text):
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignment(text)


@pytest.mark.parametrize("values, field", [({"lr": "0"}, "lr"), ({"epochs": "x"}, "epochs"),
                                           ({"device": "tpu"}, "device"), ({"colour": "red"}, "")])
def test_a_config_error_names_its_field_as_a_value(values, field):
    """The form marks the field at fault from ConfigError.field, not by reading the sentence."""
    with pytest.raises(ConfigError) as caught:
        make_config(values)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: " if field else "unknown setting")
