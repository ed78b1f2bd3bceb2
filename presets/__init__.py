"""Bundled experiment presets (TOML files beside this one)."""
