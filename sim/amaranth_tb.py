"""Helpers for Amaranth-simulator testbenches: stream transfers and a word client."""

from firmware_py.device.commands import Command, response_length, split_response

__all__ = ["stream_put", "stream_get", "call"]


# A handshake that never comes is a failure, not a hang: far more cycles than any command
# of the tests waits for.
LIMIT = 20_000


async def _handshake(ctx, port, flag, limit):
    for _ in range(limit):
        *_, payload, done = await ctx.tick().sample(port.payload, flag)
        if done:
            return payload
    raise AssertionError(f"no stream handshake on {port} within {limit} cycles")


async def stream_put(ctx, port, payload, limit=LIMIT):
    """Offer one payload on a stream and wait until it is taken."""
    ctx.set(port.payload, payload)
    ctx.set(port.valid, 1)
    await _handshake(ctx, port, port.ready, limit)
    ctx.set(port.valid, 0)


async def stream_get(ctx, port, limit=LIMIT):
    """Take one payload from a stream."""
    ctx.set(port.ready, 1)
    payload = await _handshake(ctx, port, port.valid, limit)
    ctx.set(port.ready, 0)
    return payload


async def call(ctx, core, cmd: Command, stall=0):
    """Run one command on a ``DyadicCore``; returns its decoded response.

    ``stall``: cycles the reader waits before it takes each response word, as the framer
    does while it sends the previous word's bytes.
    """
    for w in cmd.words:
        await stream_put(ctx, core.i_cmd, w)
    words = [await stream_get(ctx, core.o_rsp)]
    for _ in range(response_length(words[0])):
        for _ in range(stall):
            await ctx.tick()
        words.append(await stream_get(ctx, core.o_rsp))
    _, data = split_response(words)
    return cmd.decode(data)
