// Cycle-accurate simulator of the framed link (DyadicLink) as a byte pipe:
// command frames on stdin, response frames on stdout. The host's real driver talks
// to it through firmware_py.device.transport.SimTransport. It clocks while there is work
// and blocks on stdin while the link is idle, so it costs nothing between commands.
#include <cstdint>
#include <deque>
#include <poll.h>
#include <unistd.h>
#include <vector>

#include "Vdyadic_link.h"
#include "verilated.h"

// Verilator escapes the "__" of Amaranth port names as "___05F".

static void step(Vdyadic_link* top) {
    top->clk = 0;
    top->eval();
    top->clk = 1;
    top->eval();
}

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    auto* top = new Vdyadic_link;
    top->rst = 1;
    for (int i = 0; i < 4; i++) step(top);
    top->rst = 0;
    std::deque<uint8_t> in;
    std::vector<uint8_t> out;
    static uint8_t buf[1 << 16];
    bool eof = false;
    for (;;) {
        top->o_tx___05Fready = 1;
        top->i_rx___05Fvalid = !in.empty();
        top->i_rx___05Fpayload = in.empty() ? 0 : in.front();
        top->clk = 0;
        top->eval();
        bool idle = top->idle && in.empty() && !top->o_tx___05Fvalid;
        if (!out.empty() && (idle || out.size() >= 4096)) {
            size_t done = 0;
            while (done < out.size()) {
                ssize_t n = write(1, out.data() + done, out.size() - done);
                if (n <= 0) return 0;
                done += n;
            }
            out.clear();
        }
        if (in.empty() && !eof) {
            struct pollfd p = {0, POLLIN, 0};
            if (poll(&p, 1, idle ? -1 : 0) > 0) {
                ssize_t n = read(0, buf, sizeof buf);
                if (n <= 0) eof = true;
                else in.insert(in.end(), buf, buf + n);
                continue;  // re-drive the inputs with the new bytes
            }
        }
        if (eof && idle) break;
        bool rx_take = top->i_rx___05Fvalid && top->i_rx___05Fready;
        bool tx_take = top->o_tx___05Fvalid;
        uint8_t tx_byte = top->o_tx___05Fpayload;
        top->clk = 1;
        top->eval();
        if (rx_take) in.pop_front();
        if (tx_take) out.push_back(tx_byte);
    }
    top->final();
    delete top;
    return 0;
}
