"""Training in tests on a shared CPU box."""
from contextlib import contextmanager

import torch


@contextmanager
def one_thread():
    """Train on one thread: with several processes sharing two cores, torch's default of one
    thread per core makes them wait on each other (a tiny epoch took 6x longer with two)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
