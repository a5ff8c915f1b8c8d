"""Where a lean design's lanes sit on an ECP5 die: each lane's multiplier and block RAM.

nextpnr's placers assign hard blocks to sites without knowing which belong together. In a
static placement of the 85F's `digits-lean-ecp5` a lane's block RAM sat a median 47 tiles
from its multiplier (the die is 126 wide), and the eleven multipliers of a row of lanes,
whose products one adder tree sums, spanned a median 98 tiles (boards/README.md). The
floorplan puts each row of lanes on consecutive multiplier sites of one DSP row, and each
lane's words in the nearest free block RAM of an EBR row beside it. The build pins those
cells with nextpnr's ``BEL`` attribute; the logic between them is placed as before.

Sites are named as nextpnr 0.11 names them (``X<x>/Y<y>/MULT18_<n>``, ``.../EBR<n>``). An
ECP5's DSP and EBR sites come in groups of four every nine columns (eleven at the
die's centre); the 85F and the 45F are mapped.
"""

from dataclasses import dataclass

from firmware_py.contract.config import DyadicConfig

__all__ = ["Die", "DIES", "lane_cells", "floorplan", "yosys_commands"]


@dataclass(frozen=True)
class Die:
    groups: tuple           # the first column of each DSP / EBR group
    dsp_rows: tuple         # rows of MULT18X18D sites
    ebr_rows: tuple         # rows of DP16KD sites

    def dsp_sites(self, y):
        return [(x + dx, f"X{x + dx}/Y{y}/MULT18_{n}") for x in self.groups
                for dx, n in ((0, 0), (1, 1), (4, 4), (5, 5))]

    def ebr_sites(self, y):
        return [(x + 2 * n, f"X{x + 2 * n}/Y{y}/EBR{n}") for x in self.groups for n in range(4)]


DIES = {
    # from a placement of the 85F's lean design (every site of rows 10, 34, 58 and 22, 46,
    # 70 was used but five)
    "LFE5U-85F": Die(groups=(4, 13, 22, 31, 40, 49, 58, 69, 78, 87, 96, 105, 114),
                     dsp_rows=(10, 34, 58), ebr_rows=(22, 46, 70, 82)),
    # from a placement of the 45F's (33 and 36 of its rows' 36 multiplier sites)
    "LFE5U-45F": Die(groups=(4, 13, 22, 31, 42, 51, 60, 69, 78),
                     dsp_rows=(22, 46), ebr_rows=(10, 34, 58)),
}


def lane_cells(l: int, a: int, b: int) -> tuple[str, str]:
    """The netlist names of lane (a, b) of cell l's multiplier and block RAM, as yosys
    names them inside the board's top level (``BoardTop`` -> ``DyadicUART`` -> core)."""
    lane = f"acc.link.core.cell{l}.mac.lane{a}_{b}"
    return f"{lane}.mult.mult18x18d", f"{lane}.memory.lane_words.0.0"


def floorplan(config: DyadicConfig, device: str) -> dict[str, str]:
    """Cell name -> site for every lane of a lean configuration on ``device``; empty when
    the die is not mapped or the cells are not lean."""
    from hdl.layer.lane_memory import LaneMemory, memory_for
    die = DIES.get(device)
    if die is None or not config.lean:
        return {}
    # rows of lanes, cell by cell, first fit into the DSP rows (a row of lanes never split)
    free = {y: die.dsp_sites(y) for y in die.dsp_rows}
    placed = {y: [] for y in die.dsp_rows}
    for l in range(1, config.L + 1):
        t = config.tiling(l)
        block = memory_for(config, t) is LaneMemory
        for a in range(t.rows):
            y = next((y for y in die.dsp_rows if len(free[y]) >= t.cols), None)
            if y is None:
                raise ValueError(f"{device}: no DSP row has {t.cols} free sites for row {a} "
                                 f"of cell {l}")
            for b in range(t.cols):
                x, site = free[y].pop(0)
                placed[y].append(((l, a, b), x, site, block))
    plan, ebr_free = {}, {y: die.ebr_sites(y) for y in die.ebr_rows}
    for y, lanes in placed.items():
        need = [lane for lane in lanes if lane[3]]
        # the nearest EBR row that holds the row's block RAMs (then the one with most room)
        rows = sorted(die.ebr_rows, key=lambda e: (abs(e - y), -len(ebr_free[e])))
        e = next((e for e in rows if len(ebr_free[e]) >= len(need)), None)
        if e is None:
            raise ValueError(f"{device}: no EBR row has {len(need)} free sites")
        for (l, a, b), x, site, block in lanes:
            mult, ram = lane_cells(l, a, b)
            plan[mult] = site
            if block:
                k = min(range(len(ebr_free[e])), key=lambda i: abs(ebr_free[e][i][0] - x))
                plan[ram] = ebr_free[e].pop(k)[1]
    return plan


def yosys_commands(plan: dict[str, str]) -> str:
    """Commands after synthesis: each cell must exist once (a renamed cell stops the build
    rather than leaving its lane to chance), then gets its site."""
    return "\n".join(f"select -assert-count 1 top/{cell}\nsetattr -set BEL \"{site}\" top/{cell}"
                     for cell, site in plan.items())
