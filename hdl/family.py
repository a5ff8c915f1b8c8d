"""Which FPGA family the gateware is elaborated for."""

__all__ = ["family_of"]


def family_of(platform) -> str | None:
    """"ice40", "ecp5", "gowin", ... for a board's platform (amaranth-boards spells
    iCE40 with capitals) or ``hdl.verilog.FamilyPlatform``; None in simulation."""
    family = getattr(platform, "family", None)
    return family.lower() if isinstance(family, str) else None
