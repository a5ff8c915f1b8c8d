"""Load a built bitstream onto a board (``make program BOARD=...``).

Uses the first of the board's programmers found on PATH. None of them comes from
PyPI, so a missing one is reported with the command that installs it.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from boards import ROOT, BoardError, get_board

__all__ = ["program", "ProgramError", "INSTALL"]

# how to get each programmer on Debian/Ubuntu
INSTALL = {
    "openFPGALoader": "sudo apt-get install openfpgaloader",
    "iceprog": "sudo apt-get install fpga-icestorm",
    "fujprog": "see https://github.com/kost/fujprog/releases",
}


class ProgramError(RuntimeError):
    pass


def program(board_name: str, out_root: Path = ROOT / "build" / "boards", which=shutil.which,
            run=subprocess.run) -> list:
    board = get_board(board_name)
    bitstream = Path(out_root) / board.name / f"{board.name}.{board.bitstream_ext}"
    if not bitstream.exists():
        raise ProgramError(f"no bitstream at {bitstream}; run `make bitstream BOARD={board.name}`")
    for tool, *args in board.programmers:
        path = which(tool)
        if path is None:
            continue
        cmd = [path, *(a.format(bitstream=bitstream) for a in args)]
        print("running:", " ".join(cmd), flush=True)
        if run(cmd).returncode != 0:
            raise ProgramError(f"{tool} failed to program {board.title}; is it plugged in, and "
                               f"may this user open its USB device?")
        return cmd
    tools = [p[0] for p in board.programmers]
    hints = "\n".join(f"  {t}: {INSTALL[t]}" for t in tools)
    raise ProgramError(f"none of {', '.join(tools)} is on PATH; install one:\n{hints}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m boards.program", description=__doc__)
    p.add_argument("board")
    p.add_argument("--out", default=str(ROOT / "build" / "boards"))
    args = p.parse_args(argv)
    try:
        program(args.board, Path(args.out))
    except (BoardError, ProgramError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
