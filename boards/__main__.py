"""``python -m boards`` (``make boards``): the boards, their limits and default configurations."""

from boards import BOARDS, estimate


def main():
    print(f"{'board':<12} {'device':<38} {'clock':>7} {'DSP':>4} {'LUT4':>6} {'BRAM kbit':>9}  "
          "default configuration")
    for b in BOARDS.values():
        cfg = b.default_config()
        need = estimate(cfg)
        print(f"{b.name:<12} {b.title:<38} {b.clock_mhz:>5.0f}MHz {b.dsp:>4} {b.logic:>6} "
              f"{b.bram_kbit:>9}  {b.config} ({'-'.join(map(str, cfg.sizes))}, "
              f"{need['multipliers']} multipliers)")


if __name__ == "__main__":
    main()
