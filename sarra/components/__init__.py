"""Components: presets of defaults over the one loop, and their process management."""
