"""GAN Studio: train, watch and explore Generative Adversarial Networks."""

__version__ = "0.1.0"
