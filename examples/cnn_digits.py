"""A small CNN on scikit-learn's handwritten digits (8x8 images, 10 classes), trained with gradc on the default device.

    python examples/cnn_digits.py [--epochs 15] [--out cnn_digits_loss.png]

The training loop, the progress bar and the loss plot are mlp_digits.py's; only the model differs.
"""
import gradc.nn as nn

from mlp_digits import main


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 2 x 2
        nn.Flatten(), nn.Linear(128, 10))


if __name__ == "__main__":
    main(cnn, "CNN", image_shape=(1, 8, 8), epochs=15, doc=__doc__)
