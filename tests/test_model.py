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
    seen = []
    net.drop.register_forward_hook(lambda m, i, o: seen.append(("drop", i[0].shape[1])))
    for name in ("fc1", "fc2", "fc3"):
        getattr(net, name).register_forward_pre_hook(lambda m, i, name=name: seen.append((name, i[0].shape[1])))
    net(torch.zeros(2, 3, 32, 32))
    assert seen == [("drop", 3200), ("fc1", 3200), ("drop", 100), ("fc2", 100), ("drop", 50), ("fc3", 50)]


@pytest.mark.parametrize("settings, p", [({}, 0.25), ({"reg_strength": 0.5}, 0.5)])
def test_dropout_drops_the_studys_share_of_the_features_and_rescales_the_rest(settings, p):
    """Measured on what fc1 receives in training mode: the reference study's p = 0.25 by default (or
    the reg_strength given) of the features are zeroed, the rest scaled by 1/(1-p)."""
    net = build_model(make_config({"regularizer": "dropout", **settings})).train()
    pairs = []
    net.drop.register_forward_hook(lambda m, i, o: pairs.append((i[0], o)))
    torch.manual_seed(0)
    net(torch.randn(256, 3, 32, 32))
    before, after = pairs[0]  # before fc1: 256 x 3200 features
    live = before != 0
    dropped = (after[live] == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.005)  # ~800,000 draws: sd 0.0005
    kept = live & (after != 0)
    assert torch.allclose(after[kept], before[kept] / (1 - p))


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


def _relu_then_pool(net: Net, x: torch.Tensor) -> torch.Tensor:
    """The study's layer order, written out: conv -> ReLU -> pool."""
    x = net.pool(torch.relu(net.conv1(x)))
    x = torch.relu(net.conv2(x))
    x = net.pool(torch.relu(net.conv3(x)))
    x = torch.relu(net.fc1(torch.flatten(x, 1)))
    return net.fc3(torch.relu(net.fc2(x)))


@pytest.mark.parametrize("channels_last", [False, True])
def test_pool_before_relu_is_bit_identical_in_values_and_gradients(channels_last):
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(16, 3, 32, 32)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    ours = net(x)
    ours.square().sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    ref = _relu_then_pool(net, x)
    ref.square().sum().backward()
    assert torch.equal(ours, ref)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, net.parameters()))


def test_fused_adam_follows_the_plain_adam_update():
    config = make_config({"optimizer": "adam", "lr": 0.01})
    nets = [Net(), Net()]
    nets[1].load_state_dict(nets[0].state_dict())
    fused = build_optimizer(config, nets[0].parameters())
    plain = torch.optim.Adam(nets[1].parameters(), lr=0.01, foreach=False)
    assert fused.param_groups[0]["fused"]
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    before = [p.detach().clone() for p in nets[0].parameters()]
    for net, opt in zip(nets, (fused, plain)):  # one step: later steps amplify rounding chaotically
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    for a, b, old in zip(nets[0].parameters(), nets[1].parameters(), before):
        assert not torch.equal(a, old)  # it moved ~lr
        assert torch.allclose(a, b, rtol=0, atol=1e-7)  # the same update up to float rounding
