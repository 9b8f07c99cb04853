"""The explorer's fixed choices, kept free of torch so the window can import them at start-up."""

GRID_SIZES = (9, 16, 25, 36, 64)
PCA_SAMPLES = 10_000  # latents behind the GANSpace directions
PCA_COMPONENTS = 10
WALK_FRAMES, WALK_EXTENT = 32, 3.0  # exported direction walks
