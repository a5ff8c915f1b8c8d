"""The command protocol of the dyadic core, defined once for gateware and host.

The core speaks 32-bit words. A command is a header word followed by ``length``
payload words; every command gets a response: a header word followed by
``length`` data words. Signed values travel sign-extended to 32 bits.
"""

from amaranth.lib import data, enum
from crc import Crc16

__all__ = ["PROTOCOL_VERSION", "Opcode", "Status", "CommandHeader", "ResponseHeader",
           "COUNTERS", "StreamFlags", "pack", "unpack",
           "SOF_COMMAND", "SOF_RESPONSE", "FRAME_CRC", "FRAME_HEADER_BYTES", "LinkStatus"]

PROTOCOL_VERSION = 1


class Opcode(enum.Enum, shape=8):
    """Commands. Payload / response data per opcode (N = n_l, M = n_{l-1}).

    A layer's parameters are the elements W row-major (N*M master codes), then b (N);
    its gradients G_W then G_b; its state s (N) then lam (N). Transfers address a
    window of that order, so a host can move any part in frames of any size.
    """

    IDENTIFY = 0x01        # -> version, config_id, L, n_0 .. n_L, max_batch
    WRITE_PARAMS = 0x10    # layer; offset, values ...
    READ_PARAMS = 0x11     # layer; offset, count -> values
    READ_GRADS = 0x12      # layer; offset, count -> values
    WRITE_STATE = 0x13     # layer; offset, values ...
    READ_STATE = 0x14      # layer; offset, count -> values
    WRITE_SAMPLES = 0x20   # first index, then per sample x (n_0), y (n_L); samples held
                           # afterwards: first + count
    RELAX = 0x30           # ticks, dt shift k (dt = 2^-k); on sample 0, then one read-out
    STREAM = 0x31          # batch B, StreamFlags
    READ_COUNTERS = 0x40   # -> COUNTERS
    CLEAR_COUNTERS = 0x41


    RESET = 0xFF           # link only: resynchronise the sequence number (any SEQ)


class Status(enum.Enum, shape=8):
    OK = 0
    BAD_OPCODE = 1
    BAD_LAYER = 2
    BAD_LENGTH = 3
    BAD_ARGUMENT = 4


# -- framing on the byte link (UART) ---------------------------------------------------
# command:  SOF_COMMAND  SEQ OPCODE LAYER LEN_LO LEN_HI  payload (LEN words, little-endian)  CRC
# response: SOF_RESPONSE SEQ STATUS OPCODE LEN_LO LEN_HI  data    (LEN words, little-endian)  CRC
# CRC: FRAME_CRC over SEQ .. the last payload byte, sent high byte first.
SOF_COMMAND = 0xA5
SOF_RESPONSE = 0x5A
FRAME_HEADER_BYTES = 5          # SEQ OPCODE/STATUS LAYER/OPCODE LEN_LO LEN_HI
FRAME_CRC = Crc16.IBM_3740      # CRC-16/CCITT-FALSE, from the host's crc library


class LinkStatus(enum.Enum, shape=8):
    """STATUS of a response frame: the core's Status, or a link-level error."""

    ACK = Status.OK.value
    BAD_OPCODE = Status.BAD_OPCODE.value
    BAD_LAYER = Status.BAD_LAYER.value
    BAD_LENGTH = Status.BAD_LENGTH.value
    BAD_ARGUMENT = Status.BAD_ARGUMENT.value
    BAD_CRC = 0x10          # the command frame was damaged; nothing was executed
    TOO_LONG = 0x11         # LEN exceeds the frame buffer; nothing was executed
    BAD_SEQ = 0x12          # SEQ is neither the next nor the last one; nothing was executed
    DUPLICATE = 0x13        # SEQ is the last executed one: not executed again


CommandHeader = data.StructLayout({"opcode": Opcode, "layer": 8, "length": 16})
ResponseHeader = data.StructLayout({"opcode": Opcode, "status": Status, "length": 16})
StreamFlags = data.StructLayout({"update": 1, "_pad": 7, "lr_shift": 8, "_pad2": 16})

# READ_COUNTERS order; each a 32-bit word; the counters wrap at 2^config.counter_bits.
COUNTERS = ("ticks", "cycles", "busy", "sat_h", "sat_err", "sat_lam", "sat_grad", "sat_weight")


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
