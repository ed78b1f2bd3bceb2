import math

import pytest
import torch

from core.config import make_config
from core.model import Net, build_model, build_optimizer, penalty


def test_shapes_and_parameter_count():
    net = Net()
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    # conv 3*32*9+32, 32*64*9+64, 64*128*9+128; fc 3200*100+100, 100*50+50, 50*10+10
    expected = 896 + 18496 + 73856 + 320100 + 5050 + 510
    assert sum(p.numel() for p in net.parameters()) == expected


def test_logit_relu_reproduces_the_notebook():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 32, 32)
    plain, relu = Net(), Net(logit_relu=True)
    relu.load_state_dict(plain.state_dict())
    a, b = plain(x), relu(x)
    assert (a < 0).any()
    assert torch.equal(b, a.clamp(min=0))


def test_l2_and_l1_penalties_match_hand_computation():
    net = Net()
    with torch.no_grad():
        for i, p in enumerate(net.parameters()):
            p.fill_(0.01 * (i + 1))
    sq = sum(p.numel() * (0.01 * (i + 1)) ** 2 for i, p in enumerate(net.parameters()))
    ab = sum(p.numel() * 0.01 * (i + 1) for i, p in enumerate(net.parameters()))
    assert math.isclose(penalty(net, "l2", 1e-3).item(), 1e-3 * sq, rel_tol=1e-5)
    assert math.isclose(penalty(net, "l1", 1e-4).item(), 1e-4 * ab, rel_tol=1e-5)
    assert penalty(net, "none", 0.0) is None and penalty(net, "dropout", 0.25) is None


def test_dropout_sits_before_fc1_fc2_and_fc3():
    net = build_model(make_config({"regularizer": "dropout"}))
    assert net.drop.p == 0.25
    seen = []
    net.drop.register_forward_hook(lambda m, i, o: seen.append(("drop", i[0].shape[1])))
    for name in ("fc1", "fc2", "fc3"):
        getattr(net, name).register_forward_pre_hook(lambda m, i, name=name: seen.append((name, i[0].shape[1])))
    net(torch.zeros(2, 3, 32, 32))
    assert seen == [("drop", 3200), ("fc1", 3200), ("drop", 100), ("fc2", 100), ("drop", 50), ("fc3", 50)]


def test_dropout_only_in_training_mode():
    net = build_model(make_config({"regularizer": "dropout", "reg_strength": 0.5}))
    x = torch.randn(4, 3, 32, 32)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    torch.manual_seed(0)
    assert not torch.equal(net(x), net(x))


def test_no_dropout_module_without_the_regularizer():
    assert isinstance(build_model(make_config()).drop, torch.nn.Identity)


@pytest.mark.parametrize("name, cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam)])
def test_optimizer_choice(name, cls):
    config = make_config({"optimizer": name, "lr": 0.01})
    opt = build_optimizer(config, Net().parameters())
    assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 0.01
