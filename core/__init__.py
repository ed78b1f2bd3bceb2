"""cifar-tui's engine: configs, data, model, trainer and run records. Never imports a UI package."""
