"""cifar-tui's user side: the command line and the Textual console."""
