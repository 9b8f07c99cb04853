"""The GAN engine: data, networks, losses, the trainer, checkpoints and run folders.

Nothing in here imports Qt; a headless script, a cluster job or a test can use all of it.
"""
