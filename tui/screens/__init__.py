"""The console's screens: the main screen, help and the dialogs."""
