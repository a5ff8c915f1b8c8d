"""The training recipe of each bundled data set: what ``dyadic train`` uses by default."""

__all__ = ["TRAIN_DEFAULTS"]

# (sizes, activation, epochs, batch, learning rate). The batch gradient is the sum over
# the batch, so lr * batch is the step a mean-gradient optimiser would take. A 2-2-1 XOR
# net trains more reliably with hard-tanh than with ReLU.
TRAIN_DEFAULTS = {
    "digits": ((64, 32, 10), "relu", 30, 16, 2.0 ** -7),
    "xor": ((2, 2, 1), "hardtanh", 400, 4, 2.0 ** -3),
    "nae3": ((3, 2, 1), "hardtanh", 400, 8, 2.0 ** -4),
    "moons": ((2, 16, 2), "relu", 60, 16, 2.0 ** -6),
}
