import pytest

from core.config import make_config
from core.presets import PresetError, available, find, load_all, load_file

STUDY = {
    "ex1-normalization-augmentation": {"baseline", "augmentation", "normalization", "augmentation+normalization"},
    "ex2-regularization": {"baseline", "l2", "l1", "dropout"},
    "ex3-optimizers": {f"{o}-lr{lr}" for o in ("adam", "sgd") for lr in ("0.01", "0.001", "0.00001")},
}


def test_bundled_presets_all_load():
    presets, errors = load_all()
    assert errors == []
    assert {p.name for p in presets} >= {"baseline", "quick-demo", *STUDY}
    assert all(p.description for p in presets)


@pytest.mark.parametrize("name", STUDY)
def test_study_presets_have_the_study_runs(name):
    preset = find(name)
    assert {n for n, _ in preset.runs} == STUDY[name]
    for _, c in preset.runs:
        assert (c.epochs, c.batch_size, c.train_fraction, c.seed) == (40, 128, 0.5, 4)


def test_ex2_values_are_the_studys():
    p = find("ex2-regularization")
    assert (p.run("l2").regularizer, p.run("l2").strength) == ("l2", 1e-3)
    assert (p.run("l1").regularizer, p.run("l1").strength) == ("l1", 1e-4)
    assert (p.run("dropout").regularizer, p.run("dropout").strength) == ("dropout", 0.25)


def test_ex3_values_are_the_studys():
    p = find("ex3-optimizers")
    assert (p.run("sgd-lr0.00001").optimizer, p.run("sgd-lr0.00001").lr) == ("sgd", 1e-5)
    assert (p.run("adam-lr0.01").optimizer, p.run("adam-lr0.01").lr) == ("adam", 0.01)


def test_quick_demo_is_offline():
    assert all(c.dataset == "synthetic" for _, c in find("quick-demo").runs)


def test_base_config_fills_what_the_file_leaves_out(tmp_path):
    p = find("baseline", make_config({"data_dir": str(tmp_path)}))
    assert p.run("baseline").data_dir == str(tmp_path)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(PresetError, match="unknown preset 'nope'.*quick-demo"):
        find("nope")


@pytest.mark.parametrize("text, expected", [
    ("name = \n", "not valid TOML"),
    ("colour = 'red'\n[[runs]]\nname='a'\n", "unknown key 'colour'"),
    ("[settings]\nlr = 0\n[[runs]]\nname='a'\n", r"\[settings\] lr"),
    ("[settings]\nepochs = 2\n", "at least one"),
    ("[[runs]]\nname='a'\nlr='x'\n", "run 'a': lr"),
    ("[[runs]]\nname='a'\nfoo=1\n", "run 'a': unknown setting 'foo'"),
    ("[[runs]]\nlr=0.1\n", "run 1 needs a name"),
    ("[[runs]]\nname='a'\n[[runs]]\nname='a'\n", "two runs are named 'a'"),
])
def test_malformed_preset_names_file_key_and_reason(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PresetError, match=expected) as e:
        load_file(path)
    assert str(path) in str(e.value)


def test_user_presets_dir_is_searched_and_broken_ones_reported(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text("description='x'\n[[runs]]\nname='a'\nepochs=2\n")
    (tmp_path / "broken.toml").write_text("[[runs]]\nname='a'\nepochs=0\n")
    monkeypatch.setenv("CIFAR_TUI_PRESETS", str(tmp_path))
    assert "mine" in available()
    presets, errors = load_all()
    assert find("mine").run("a").epochs == 2
    assert len(errors) == 1 and "broken.toml" in errors[0] and "epochs" in errors[0]
