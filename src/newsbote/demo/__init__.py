"""The demo: sample sources served locally and News-Bote posting them to the board."""
