"""The `/` filter and the table's grouping and folding (tui.runfilter, tui.tableshape), without Textual."""
import pytest

from core.config import RunConfig
from tui.runfilter import FilterError, parse
from tui.runview import Views
from tui.tableshape import FOLDED, GROUP, RUN, arrange, differing, next_grouping


def study():
    """Six runs of the optimizer study: sgd/adam at three rates, two finished."""
    views = Views()
    for k, (optimizer, lr) in enumerate([("sgd", 0.01), ("sgd", 0.001), ("sgd", 1e-5),
                                         ("adam", 0.01), ("adam", 0.001), ("adam", 1e-5)]):
        name = f"{optimizer}-lr{lr:g}"
        config = RunConfig(optimizer=optimizer, lr=lr, augment=k == 0, data_dir="/d").to_dict()
        views.add(name, "ex3", config=config, status="finished" if k in (1, 4) else "running")
    return list(views)


def shown(text, views):
    f = parse(text)
    return [v.name for v in views if f.matches(v)]


def test_a_setting_matches_by_value_numbers_as_numbers():
    views = study()
    assert shown("lr=0.01", views) == ["sgd-lr0.01", "adam-lr0.01"]
    assert shown("lr=1e-2", views) == ["sgd-lr0.01", "adam-lr0.01"]
    assert shown("lr<0.001", views) == ["sgd-lr1e-05", "adam-lr1e-05"]
    assert shown("optimizer!=sgd lr>=0.001", views) == ["adam-lr0.01", "adam-lr0.001"]


def test_words_match_status_values_switches_and_names_and_all_must_match():
    views = study()
    assert shown("adam", views) == ["adam-lr0.01", "adam-lr0.001", "adam-lr1e-05"]
    assert shown("finished", views) == ["sgd-lr0.001", "adam-lr0.001"]
    assert shown("adam finished", views) == ["adam-lr0.001"]
    assert shown("!finished sgd", views) == ["sgd-lr0.01", "sgd-lr1e-05"]
    assert shown("augment", views) == ["sgd-lr0.01"]
    assert shown("aug=no lr=0.01", views) == ["adam-lr0.01"]
    assert shown("LR1E-05", views) == ["sgd-lr1e-05", "adam-lr1e-05"]  # part of the name, any case


@pytest.mark.parametrize("text, says", [("lrate=0.1", "no setting is called lrate"),
                                        ("lr=", "give a value after ="), ("lr<fast", "compares numbers"),
                                        ("!", "negates nothing")])
def test_a_word_that_cannot_be_read_is_named_in_one_sentence(text, says):
    with pytest.raises(FilterError, match=says):
        parse(text)


def test_grouping_cycles_through_the_settings_that_differ_in_study_order():
    views = study()
    assert differing(views) == ["augment", "optimizer", "lr"]
    assert next_grouping(None, views) == "augment"
    assert next_grouping("optimizer", views) == "lr"
    assert next_grouping("lr", views) is None


def test_grouped_by_rate_headers_count_runs_in_rate_order_and_fold_hides_finished():
    views = study()
    entries = arrange(views, parse(""), "lr", fold=False)
    assert [(e.text, e.detail) for e in entries if e.kind == GROUP] == [
        ("▾ lr 1e-05", "2 runs"), ("▾ lr 0.001", "2 runs"), ("▾ lr 0.01", "2 runs")]
    names = {v.key: v.name for v in views}
    assert [names[e.key] for e in entries if e.kind == RUN][2:4] == ["sgd-lr0.001", "adam-lr0.001"]
    folded = arrange(views, parse("sgd"), "lr", fold=True)
    assert [(e.kind, names.get(e.key, e.text.strip())) for e in folded] == [
        (GROUP, folded[0].text.strip()), (RUN, "sgd-lr1e-05"),
        (GROUP, folded[2].text.strip()), (FOLDED, "▸ 1 finished"),
        (GROUP, folded[4].text.strip()), (RUN, "sgd-lr0.01")]
    assert (folded[2].text, folded[2].detail) == ("▾ lr 0.001", "1 run")
