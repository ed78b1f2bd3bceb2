"""cifar-tui's engine: configs, data, model, trainer and run records. Never imports a UI package."""

__version__ = "0.1.0"  # the package's one version (pyproject.toml reads it); Ray nodes compare it
