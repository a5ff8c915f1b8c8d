"""The command protocol of the dyadic core, defined once for gateware and host.

The core speaks 32-bit words. A command is a header word followed by ``length``
payload words; every command gets a response: a header word followed by
``length`` data words. Signed values travel sign-extended to 32 bits, except
samples, which travel packed (``pack_samples``).
"""

import numpy as np
from amaranth.lib import data, enum
from amaranth.lib.crc import catalog

__all__ = ["PROTOCOL_VERSION", "Opcode", "TRAINER_OPCODES", "Status", "STATUS_TEXT",
           "CommandHeader", "ResponseHeader", "COUNTERS", "STATE_OPCODES", "carried_opcodes",
           "carried_counters", "missing_reason", "StreamFlags", "SampleShape",
           "MAX_EPOCHS", "pack", "unpack", "sample_words", "sample_lanes", "classes",
           "pack_samples", "unpack_samples", "SOF_COMMAND", "SOF_RESPONSE", "FRAME_CRC",
           "FRAME_HEADER_BYTES", "LinkStatus", "DEFAULT_BAUD"]

PROTOCOL_VERSION = 2

MAX_EPOCHS = 64     # epochs one TRAIN command may run (its sample orders are held on chip)


class Opcode(enum.Enum, shape=8):
    """Commands. Payload / response data per opcode (N = n_l, M = n_{l-1}).

    A layer's parameters are the elements W row-major (N*M master codes), then b (N);
    its gradients G_W then G_b; its state s (N) then lam (N). Transfers address a
    window of that order, so a host can move any part in frames of any size.

    The resident set is the samples 0 .. resident-1 of the sample memory. Runs take
    their samples from it by index: a STREAM batch ``first .. first+B-1``; TRAIN, whole
    epochs over ``first .. first+count-1``, epoch e visiting position p's sample
    ``first + (offset_e + p * stride_e) mod count`` (stride coprime with count: the
    host's choice), in batches of B (the last one shorter), each with the SGD step.
    """

    IDENTIFY = 0x01        # -> version, config_id, L, n_0 .. n_L, max_batch, max_samples
    WRITE_PARAMS = 0x10    # layer; offset, values ...
    READ_PARAMS = 0x11     # layer; offset, count -> values
    READ_GRADS = 0x12      # layer; offset, count -> values
    WRITE_STATE = 0x13     # layer; offset, values ...
    READ_STATE = 0x14      # layer; offset, count -> values
    WRITE_SAMPLES = 0x20   # first, count, SampleShape, then count packed samples; first may
                           # be at most resident (the set grows without gaps)
    READ_SAMPLES = 0x21    # first, count -> count samples, a value a word (its raw bits)
    RELAX = 0x30           # sample, ticks, dt shift k (dt = 2^-k); then one read-out
    STREAM = 0x31          # first, batch B, StreamFlags
    TRAIN = 0x32           # first, count, batch B, StreamFlags (lr), epochs E; then E x
                           # (stride, offset)
    EVALUATE = 0x33        # first, count -> correct, loss low word, loss high word
    READ_COUNTERS = 0x40   # -> COUNTERS
    CLEAR_COUNTERS = 0x41


    RESET = 0xFF           # link only: resynchronise the sequence number (any SEQ)


# What a device built without the trainer (config.trainer false) refuses as BAD_OPCODE.
TRAINER_OPCODES = frozenset({Opcode.TRAIN, Opcode.EVALUATE})
# What a device built without host access to s and lam (config.state_access false)
# refuses: a relaxation's result is only ever read there.
STATE_OPCODES = frozenset({Opcode.WRITE_STATE, Opcode.READ_STATE, Opcode.RELAX})


def carried_opcodes(config) -> frozenset:
    """The commands a device of ``config`` executes; it refuses the others as BAD_OPCODE."""
    ops = set(Opcode) - {Opcode.RESET}          # (RESET is the link's, not the core's)
    if not config.trainer:
        ops -= TRAINER_OPCODES
    if not config.state_access:
        ops -= STATE_OPCODES
    return frozenset(ops)


def missing_reason(config, opcode) -> str:
    """Why a device of ``config`` refuses ``opcode`` (one of those it does not carry)."""
    if opcode in TRAINER_OPCODES and not config.trainer:
        return "its configuration has no trainer (\"trainer\": false): the host sends each batch"
    return ("its configuration has no host access to s and lam (\"state_access\": false): "
            "nothing can read a relaxation's result")


class Status(enum.Enum, shape=8):
    OK = 0
    BAD_OPCODE = 1
    BAD_LAYER = 2
    BAD_LENGTH = 3
    BAD_ARGUMENT = 4
    NO_ROOM = 5
    NOT_RESIDENT = 6
    BAD_BATCH = 7
    BAD_SHAPE = 8


# What each refusal means, for the host's one-line error.
STATUS_TEXT = {
    "BAD_OPCODE": "no such command",
    "BAD_LAYER": "no such layer",
    "BAD_LENGTH": "the payload length does not fit the command",
    "BAD_ARGUMENT": "an argument is out of range",
    "NO_ROOM": "more samples than the sample memory holds",
    "NOT_RESIDENT": "a sample index outside the resident set (or no set loaded)",
    "BAD_BATCH": "the batch is empty, larger than the set or larger than max_batch",
    "BAD_SHAPE": "the samples' widths do not match the network",
    "BAD_CRC": "the command frame was damaged",
    "TOO_LONG": "the frame is longer than the device's frame buffer",
    "BAD_SEQ": "sequence numbers out of step",
    "DUPLICATE": "the frame was executed before",
}


# -- framing on the byte link (UART) ---------------------------------------------------
# command:  SOF_COMMAND  SEQ OPCODE LAYER LEN_LO LEN_HI  payload (LEN words, little-endian)  CRC
# response: SOF_RESPONSE SEQ STATUS OPCODE LEN_LO LEN_HI  data    (LEN words, little-endian)  CRC
# CRC: FRAME_CRC over SEQ .. the last payload byte, sent high byte first.
SOF_COMMAND = 0xA5
SOF_RESPONSE = 0x5A
FRAME_HEADER_BYTES = 5          # SEQ OPCODE/STATUS LAYER/OPCODE LEN_LO LEN_HI
# CRC-16/CCITT-FALSE: ``FRAME_CRC.compute(data)`` on the host, ``FRAME_CRC.create()`` in the
# gateware
FRAME_CRC = catalog.CRC16_IBM_3740()
# The UART rate a board's bitstream is built for unless its board says otherwise: the
# fastest the boards' USB-UART bridges run reliably (boards/__init__.py).
DEFAULT_BAUD = 3_000_000


class LinkStatus(enum.Enum, shape=8):
    """STATUS of a response frame: the core's Status, or a link-level error."""

    ACK = Status.OK.value
    BAD_OPCODE = Status.BAD_OPCODE.value
    BAD_LAYER = Status.BAD_LAYER.value
    BAD_LENGTH = Status.BAD_LENGTH.value
    BAD_ARGUMENT = Status.BAD_ARGUMENT.value
    NO_ROOM = Status.NO_ROOM.value
    NOT_RESIDENT = Status.NOT_RESIDENT.value
    BAD_BATCH = Status.BAD_BATCH.value
    BAD_SHAPE = Status.BAD_SHAPE.value
    BAD_CRC = 0x10          # the command frame was damaged; nothing was executed
    TOO_LONG = 0x11         # LEN exceeds the frame buffer; nothing was executed
    BAD_SEQ = 0x12          # SEQ is neither the next nor the last one; nothing was executed
    DUPLICATE = 0x13        # SEQ is the last executed one: not executed again


CommandHeader = data.StructLayout({"opcode": Opcode, "layer": 8, "length": 16})
ResponseHeader = data.StructLayout({"opcode": Opcode, "status": Status, "length": 16})
StreamFlags = data.StructLayout({"update": 1, "_pad": 7, "lr_shift": 8, "_pad2": 16})
# The widths of the samples a WRITE_SAMPLES carries: the device refuses other ones.
SampleShape = data.StructLayout({"inputs": 16, "outputs": 16})

# READ_COUNTERS order; each a 32-bit word; the counters wrap at 2^config.counter_bits.
# cycles: every cycle a run occupies the array (its setup cycle included).
COUNTERS = ("ticks", "cycles", "busy", "sat_h", "sat_err", "sat_lam", "sat_grad", "sat_weight")


def carried_counters(config) -> tuple[str, ...]:
    """The counters a device of ``config`` keeps; the others read as 0 and mean nothing."""
    return COUNTERS if config.saturation_counters else COUNTERS[:3]


def pack(layout: data.StructLayout, **fields) -> int:
    """A word from field values (host side), using the same layout as the gateware."""
    word = 0
    for name, field in layout:
        v = fields.get(name, 0)
        v = v.value if isinstance(v, enum.Enum) else int(v)
        if not 0 <= v < (1 << field.width):
            raise ValueError(f"{name}={v} does not fit {field.width} bits")
        word |= v << field.offset
    return word


def unpack(layout: data.StructLayout, word: int) -> dict:
    out = {}
    for name, field in layout:
        v = (word >> field.offset) & ((1 << field.width) - 1)
        shape = field.shape
        out[name] = shape(v) if isinstance(shape, type) and issubclass(shape, enum.Enum) else v
    return out


# -- packed samples ----------------------------------------------------------------------
# A sample is its n_0 input codes, then its target (config.target_lanes lanes: n_L codes,
# or one class label), each value config.lane_bytes bytes, little-endian two's complement.
# Samples follow each other with no gaps; the last word is padded with zero bytes.
def sample_words(config, count: int) -> int:
    """Words that ``count`` packed samples take."""
    return (count * config.record_bytes + 3) // 4


def sample_lanes(config) -> int:
    """Values a sample has in the sample memory: its inputs, then its target lanes."""
    return config.sizes[0] + config.target_lanes


def classes(config, codes) -> np.ndarray:
    """The class of each row of activation codes, as the evaluator decides it: for one
    output, 1 above one half; else the index of the largest (the first of equals)."""
    codes = np.asarray(codes)
    if codes.shape[1] == 1:
        return (codes[:, 0] > config.act.one >> 1).astype(np.int64)
    return np.argmax(codes, axis=1)


def pack_samples(config, X, Y) -> list[int]:
    """Words carrying the samples: input codes X, target codes Y (with label targets,
    each row's class is what travels)."""
    X = np.asarray(X, dtype=np.int64).reshape(len(X), -1)
    Y = np.asarray(Y, dtype=np.int64).reshape(len(X), -1)
    T = classes(config, Y)[:, None] if config.targets == "label" else Y
    lanes = np.concatenate([X, T], axis=1)
    nb = config.lane_bytes
    raw = (lanes[..., None] >> (8 * np.arange(nb))) & 0xFF     # little-endian bytes
    buf = raw.astype(np.uint8).tobytes() + bytes(-lanes.size * nb % 4)
    return np.frombuffer(buf, dtype="<u4").astype(np.int64).tolist()


def unpack_samples(config, values, count: int):
    """(X, T) of ``count`` samples read back (READ_SAMPLES: a value a word); T holds labels
    when config.targets is "label"."""
    n0, nt = config.sizes[0], config.target_lanes
    v = np.asarray(values, dtype=np.int64).reshape(count, n0 + nt)
    bits = config.act.bits
    v &= (1 << bits) - 1                    # a lane keeps the format's bits
    codes = np.where(v >= 1 << (bits - 1), v - (1 << bits), v)
    X = codes[:, :n0]
    T = v[:, n0] if config.targets == "label" else codes[:, n0:]
    return X, T
