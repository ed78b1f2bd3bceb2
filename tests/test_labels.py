"""tui.labels: one label per run and group, shortened to a width without two becoming equal."""
import random
from types import SimpleNamespace

from tui.labels import ELLIPSIS, fit, group_labels

ENDS_DIFFER = ["baseline+frac0.1+ep3-s4", "baseline+frac0.1+ep2-s4", "baseline+frac0.1+ep3-s5",
               "baseline+frac0.1+ep3-s4 (past)", "quick-demo/baseline+frac0.1+ep3-s4"]


def test_whole_labels_where_the_width_allows():
    labels = ["baseline", "augmentation+normalization-2", "baseline (n=3)"]
    assert fit(labels, 28) == labels
    assert fit(labels, 200) == labels


def test_names_that_differ_only_at_the_end_stay_apart_and_keep_that_end():
    short = fit(ENDS_DIFFER[:3], 14)
    assert len(set(short)) == 3 and all(len(s) <= 14 for s in short)
    assert [s[-6:] for s in short] == ["ep3-s4", "ep2-s4", "ep3-s5"]  # the end that tells them apart
    assert all(s.startswith("base") for s in short)


def test_a_mark_stays_whole_and_a_common_beginning_is_what_goes():
    short = fit(["augmentation+normalization (past)", "augmentation+normalization-2 (past)"], 24)
    assert all(s.endswith(" (past)") and ELLIPSIS in s for s in short)
    assert short[0] != short[1] and short[1].endswith("-2 (past)")


def test_never_two_equal_labels_at_any_width():
    rng = random.Random(19)
    parts = ["baseline", "augmentation", "normalization", "+frac0.1", "+ep3", "+ep2", "+sgd", "+lr0.01",
             "quick-demo/", "ex1-normalization-augmentation/", "-2", "-3", "-s4", "-s5", "-s10", " (past)",
             " (live)", " (n=3)"]
    for trial in range(300):
        n = rng.randint(2, 12)
        labels = list(dict.fromkeys("".join(rng.choice(parts) for _ in range(rng.randint(1, 6))) for _ in range(n)))
        if trial % 3 == 0:  # a family that differs only at its last character
            stem = "".join(rng.choice(parts) for _ in range(4))
            labels = list(dict.fromkeys(labels + [stem + c for c in "0123456789"[:rng.randint(2, 10)]]))
        for width in range(4, 60):
            short = fit(labels, width)
            assert len(set(short)) == len(labels), (labels, width, short)
            assert all(len(s) <= width for s in short), (labels, width, short)
            assert all(s == lab for s, lab in zip(short, labels) if len(lab) <= width)


def test_the_ends_that_differ_survive_every_width_that_can_hold_them():
    for width in range(8, 24):
        short = fit(ENDS_DIFFER, width)
        assert len(set(short)) == len(ENDS_DIFFER)
        assert "2" in short[1] and "5" in short[2]  # the telling character is shown, not a number


def view(name, experiment="quick-demo", group="", folder="", prefix=""):
    label = prefix + (folder or name)
    return SimpleNamespace(name=name, experiment=experiment, group=group, folder=folder or name, prefix=prefix,
                           label=label)


def test_group_labels_one_seed_is_its_run_several_are_counted():
    one = [view("baseline-2", group="baseline")]
    three = [view(f"baseline-s{s}", group="baseline") for s in (4, 5, 6)]
    assert group_labels([one, three]) == ["baseline-2", "baseline (n=3)"]


def test_two_groups_sharing_a_name_are_told_apart_by_their_first_folder():
    a = [view(f"baseline-s{s}", group="baseline") for s in (4, 5)]
    b = [view(f"baseline-s{s}", group="baseline", folder=f"baseline-s{s}-2") for s in (4, 5)]
    labels = group_labels([a, b])
    assert labels == ["baseline-s4 (n=2)", "baseline-s4-2 (n=2)"]
