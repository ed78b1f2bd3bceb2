"""The console's widgets: side panel (presets + run form), charts, runs table, progress."""
