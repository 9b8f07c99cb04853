"""The GAN Studio desktop app: views draw, controllers own state, workers run off the UI thread."""
