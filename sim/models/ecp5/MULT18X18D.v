// Behavioural model of the ECP5 MULT18X18D, for simulating the ECP5 netlist of the core.
// Only the modes hdl/multiplier.py uses: signed or unsigned 18x18 -> 36 with the A, B and
// output registers on CLK0/CE0 (synchronous resets RST0..RST3, as the parameters pick) or
// bypassed; no pipeline register, no shift/cascade paths. Any other mode is an error, so the
// model cannot pass a design it does not describe.
module MULT18X18D (
    input  A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input  B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input  C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input  SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input  CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3, RST0, RST1, RST2, RST3,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20,
    output P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2,
    output P1, P0
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";

    generate
        if ((REG_INPUTA_CLK != "NONE" && (REG_INPUTA_CLK != "CLK0" || REG_INPUTA_CE != "CE0"))
            || (REG_INPUTB_CLK != "NONE" && (REG_INPUTB_CLK != "CLK0" || REG_INPUTB_CE != "CE0"))
            || (REG_OUTPUT_CLK != "NONE" && (REG_OUTPUT_CLK != "CLK0" || REG_OUTPUT_CE != "CE0"))
            || REG_PIPELINE_CLK != "NONE" || MULT_BYPASS != "DISABLED"
            || RESETMODE != "SYNC" || SOURCEB_MODE != "B_SHIFT")
            MULT18X18D_mode_not_modelled error();
    endgenerate

    wire [3:0] rst = {RST3, RST2, RST1, RST0};
    function pick_rst(input [31:0] name, input [3:0] r);
        pick_rst = r[name[7:0] - "0"];
    endfunction
    wire rst_a = pick_rst(REG_INPUTA_RST, rst);
    wire rst_b = pick_rst(REG_INPUTB_RST, rst);
    wire rst_p = pick_rst(REG_OUTPUT_RST, rst);

    wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg [17:0] a_r = 0, b_r = 0;
    reg sa_r = 0, sb_r = 0;
    always @(posedge CLK0) if (CE0) begin
        if (rst_a) begin a_r <= 0; sa_r <= 0; end else begin a_r <= a_in; sa_r <= SIGNEDA; end
        if (rst_b) begin b_r <= 0; sb_r <= 0; end else begin b_r <= b_in; sb_r <= SIGNEDB; end
    end
    wire [17:0] a = REG_INPUTA_CLK == "NONE" ? a_in : a_r;
    wire [17:0] b = REG_INPUTB_CLK == "NONE" ? b_in : b_r;
    wire sa = REG_INPUTA_CLK == "NONE" ? SIGNEDA : sa_r;
    wire sb = REG_INPUTB_CLK == "NONE" ? SIGNEDB : sb_r;
    wire [35:0] a_x = {{18{sa & a[17]}}, a};
    wire [35:0] b_x = {{18{sb & b[17]}}, b};
    wire [35:0] prod = a_x * b_x;
    reg [35:0] p_r = 0;
    always @(posedge CLK0) if (CE0) p_r <= rst_p ? 36'd0 : prod;
    wire [35:0] p = REG_OUTPUT_CLK == "NONE" ? prod : p_r;
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20,
            P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2,
            P1, P0} = p;
endmodule
