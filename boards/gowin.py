"""Gowin boards built with the open flow: yosys, nextpnr-himbaechel and apicula's packer.

Amaranth 0.5's Apicula templates call the retired ``nextpnr-gowin`` (``--family``,
``--cst``); the YoWASP build ships only ``nextpnr-himbaechel-gowin``, which takes the
chip database name and the constraints as ``--vopt``. The mixin swaps the commands and
maps the family to apicula's chip name (GW2AR-18C -> GW2A-18C). amaranth-boards 0.0.21
has no Tang Nano 20K, so its platform is described here from Sipeed's pinout.
"""

from amaranth.build import Attrs, Clock, Pins, Resource
from amaranth.vendor import GowinPlatform
from amaranth_boards.resources import ButtonResources, LEDResources, UARTResource

__all__ = ["TangNano20kPlatform"]


class HimbaechelMixin:
    yosys_family = "gw2a"      # synth_gowin -family

    @property
    def _chipdb_device(self):
        return self.family.replace("GW1NR-", "GW1N-").replace("GW2AR-", "GW2A-")

    @property
    def required_tools(self):
        return ["yosys", "nextpnr-himbaechel", "gowin_pack"]

    @property
    def command_templates(self):
        return [
            r"""
            {{invoke_tool("yosys")}}
                {{quiet("-q")}}
                {{get_override("yosys_opts")|options}}
                -l {{name}}.rpt
                {{name}}.ys
            """,
            r"""
            {{invoke_tool("nextpnr-himbaechel")}}
                {{quiet("--quiet")}}
                {{get_override("nextpnr_opts")|options}}
                --log {{name}}.tim
                --device {{platform.part}}
                --vopt family={{platform._chipdb_device}}
                --vopt cst={{name}}.cst
                --json {{name}}.syn.json
                --write {{name}}.pnr.json
            """,
            r"""
            {{invoke_tool("gowin_pack")}}
                -d {{platform._chipdb_device}}
                -o {{name}}.fs
                {{get_override("gowin_pack_opts")|options}}
                {{name}}.pnr.json
            """,
        ]

    def toolchain_prepare(self, fragment, name, **kwargs):
        synth = kwargs.pop("synth_opts", "")
        kwargs["synth_opts"] = f"-family {self.yosys_family} {synth}".strip()
        return super().toolchain_prepare(fragment, name, **kwargs)


class TangNano20kPlatform(HimbaechelMixin, GowinPlatform):
    part = "GW2AR-LV18QN88C8/I7"
    family = "GW2AR-18C"
    default_clk = "clk27"
    resources = [
        Resource("clk27", 0, Pins("4", dir="i"), Clock(27e6), Attrs(IO_TYPE="LVCMOS33")),
        *ButtonResources(pins="88 87", attrs=Attrs(IO_TYPE="LVCMOS33")),
        *LEDResources(pins="15 16 17 18 19 20", invert=True, attrs=Attrs(IO_TYPE="LVCMOS33")),
        # through the on-board BL616 USB-UART bridge
        UARTResource(0, rx="70", tx="69", attrs=Attrs(PULL_MODE="UP", IO_TYPE="LVCMOS33")),
    ]
    connectors = []
