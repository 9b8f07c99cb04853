"""File formats GAN Studio opens, one small module each."""
