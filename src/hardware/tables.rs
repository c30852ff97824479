//! MNSIM 2.0 constant tables (HWMODEL.md §0.1, §2.3–§2.9, Appendix A).
//! Values are the binary64 numbers the reference uses, written in shortest round-trip form.

/// Scalar constants of HWMODEL.md §0.1.
pub const WIRE_SCALE: f64 = 0.001;
pub const WIRE_A: f64 = 0.0002;
/// `5 × 1e-6` as the reference evaluates it: one ulp below the literal 5e-6.
pub const WIRE_B: f64 = 4.9999999999999996e-06;
pub const WIRE_C: f64 = 4e-14;
pub const XBAR_DRIVER_ANALOG: f64 = 1150.0;
pub const XBAR_DRIVER_DIGITAL: f64 = 55.81;
pub const AREA_M1_SRAM: u64 = 5;
pub const AREA_M1_0T1R: u64 = 4;
pub const AREA_M1_1T1R: u64 = 12;
pub const RDEV_W_LAST: f64 = 0.67;
pub const RDEV_W_FIRST: f64 = 0.33;
pub const V_W_FIRST: f64 = 0.9;
pub const V_W_LAST: f64 = 0.1;
pub const UNSELECTED_FRACTION: f64 = 0.25;
pub const SRAM_RESISTANCE: f64 = 1600000.0;
pub const DECODER_STAGE_NS: f64 = 0.27933;
pub const MUX_STAGE_NS: f64 = 0.032744;
pub const TRANSISTOR_AREA_FACTOR: u64 = 10;
pub const TRANSISTOR_POWER_W: f64 = 1.2e-08;
pub const ADDER_BITWIDTH: f64 = 8.0;
pub const SHIFTREG_AREA_65: f64 = 1.42;
pub const SHIFTREG_POWER_65: f64 = 8.1e-07;
pub const REG_AREA_65: f64 = 1.4256;
pub const REG_POWER_65: f64 = 1.88e-08;
pub const LOGIC_GATE_AND_OR: f64 = 3.1104000000000003;
pub const LOGIC_GATE_XOR: f64 = 3.456;
pub const BUF_CYCLE_NS: u64 = 20;
pub const BUF_DEFAULT_SIZE_KB: f64 = 16.0;
pub const BUF_DEFAULT_BITWIDTH: i64 = 256;
pub const BUF_DEFAULT_TECH: i64 = 65;

/// One converter of the DAC/ADC tables.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Converter {
    pub precision: i64,
    pub area_um2: f64,
    pub power_w: f64,
    pub sample_rate: f64,
}

const fn conv(precision: i64, area_um2: f64, power_w: f64, sample_rate: f64) -> Converter {
    Converter {
        precision,
        area_um2,
        power_w,
        sample_rate,
    }
}

/// DAC choices 1..=7 (index = choice − 1). Choice 6's power is 0.4992 W, as the reference stores it.
pub const DAC_TABLE: [Converter; 7] = [
    conv(1, 0.166, 3.9e-06, 1.0),
    conv(2, 0.332, 7.8e-06, 1.0),
    conv(3, 0.664, 1.56e-05, 1.0),
    conv(4, 1.328, 3.12e-05, 1.0),
    conv(6, 5.312, 0.0001248, 1.0),
    conv(8, 21.248, 0.4992, 1.0),
    conv(1, 0.166, 3.9e-06, 1.0),
];

/// ADC choices 1..=9 (index = choice − 1). Choice 8 is the sense amplifier of digital PIM.
pub const ADC_TABLE: [Converter; 9] = [
    conv(10, 1600.0, 0.00692, 1.5),
    conv(8, 1200.0, 0.002, 1.28),
    conv(8, 1650.0, 0.004, 1.1),
    conv(6, 580.0, 0.00126, 1.0),
    conv(8, 1650.0, 0.004, 1.1),
    conv(6, 1650.0, 0.00126, 1.0),
    conv(4, 500.0, 0.0007, 1.0),
    conv(1, 1.0, 1.629e-06, 1.0),
    conv(8, 15899.0, 5.84e-05, 6.0),
];

/// Adder table: (technology upper bound in nm, area per bit µm², power per bit W); last row is ∞.
pub const ADDER_TABLE: [(i64, f64, f64); 5] = [
    (28, 0.10976, 2.5e-09),
    (45, 0.2835, 2.5e-09),
    (55, 0.4235, 2.5e-09),
    (65, 1.42, 3e-07),
    (i64::MAX, 2.366, 2.5e-09),
];

/// Demux/mux transistor counts by number of ways (first row with ways ≤ max_ways; last is ∞).
pub const MUX_TABLE: [(u64, u64); 6] = [(2, 8), (4, 24), (8, 72), (16, 216), (32, 648), (u64::MAX, 1944)];

/// One SRAM buffer table entry (Appendix A).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BufEntry {
    pub area_mm2: f64,
    pub e_read_nj: f64,
    pub e_write_nj: f64,
    pub leak_mw: f64,
}

/// Size buckets of the buffer table, KB.
pub const BUF_SIZE_BUCKETS_KB: [f64; 8] = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// SRAM buffer table, index = 36·tech_group + 4·size_bucket + width_bucket. `None` = not available.
#[rustfmt::skip]
pub const BUFFER_TABLE: [Option<BufEntry>; 108] = [
    Some(BufEntry { area_mm2: 0.0405803, e_read_nj: 0.0075695, e_write_nj: 0.0131361, leak_mw: 1.006428 }), // 0
    Some(BufEntry { area_mm2: 0.0944387, e_read_nj: 0.0204901, e_write_nj: 0.0223358, leak_mw: 1.136656 }), // 1
    Some(BufEntry { area_mm2: 0.170796, e_read_nj: 0.0374838, e_write_nj: 0.0422325, leak_mw: 1.253224 }), // 2
    None, // 3
    Some(BufEntry { area_mm2: 0.0686947, e_read_nj: 0.00854257, e_write_nj: 0.0199484, leak_mw: 1.95684 }), // 4
    Some(BufEntry { area_mm2: 0.129533, e_read_nj: 0.0227852, e_write_nj: 0.0271014, leak_mw: 2.15962 }), // 5
    Some(BufEntry { area_mm2: 0.21469158, e_read_nj: 0.041063, e_write_nj: 0.0516509, leak_mw: 2.28782 }), // 6
    Some(BufEntry { area_mm2: 0.544121685, e_read_nj: 0.12054, e_write_nj: 0.130038, leak_mw: 2.62008 }), // 7
    Some(BufEntry { area_mm2: 0.156974886, e_read_nj: 0.018382, e_write_nj: 0.0211344, leak_mw: 4.1222 }), // 8
    Some(BufEntry { area_mm2: 0.199132286, e_read_nj: 0.0275777, e_write_nj: 0.0368348, leak_mw: 4.18056 }), // 9
    Some(BufEntry { area_mm2: 0.301779123, e_read_nj: 0.0484019, e_write_nj: 0.0706683, leak_mw: 4.3319 }), // 10
    Some(BufEntry { area_mm2: 0.629568, e_read_nj: 0.127604, e_write_nj: 0.14878, leak_mw: 4.55214 }), // 11
    Some(BufEntry { area_mm2: 0.616313686, e_read_nj: 0.044837, e_write_nj: 0.0437094, leak_mw: 8.86342 }), // 12
    Some(BufEntry { area_mm2: 0.781358547, e_read_nj: 0.0706276, e_write_nj: 0.0779207, leak_mw: 9.07178 }), // 13
    Some(BufEntry { area_mm2: 1.190747266, e_read_nj: 0.131809, e_write_nj: 0.155944, leak_mw: 9.65236 }), // 14
    Some(BufEntry { area_mm2: 2.277664127, e_read_nj: 0.295237, e_write_nj: 0.345919, leak_mw: 11.29236 }), // 15
    Some(BufEntry { area_mm2: 1.060004216, e_read_nj: 0.0618356, e_write_nj: 0.0601423, leak_mw: 17.46566 }), // 16
    Some(BufEntry { area_mm2: 1.271763571, e_read_nj: 0.0943086, e_write_nj: 0.109611, leak_mw: 17.73578 }), // 17
    Some(BufEntry { area_mm2: 1.774928364, e_read_nj: 0.169224, e_write_nj: 0.218248, leak_mw: 18.44038 }), // 18
    Some(BufEntry { area_mm2: 3.368257932, e_read_nj: 0.411876, e_write_nj: 0.460145, leak_mw: 19.29436 }), // 19
    Some(BufEntry { area_mm2: 1.974404875, e_read_nj: 0.103042, e_write_nj: 0.08827501, leak_mw: 32.1096 }), // 20
    Some(BufEntry { area_mm2: 2.239130702, e_read_nj: 0.14809, e_write_nj: 0.144703, leak_mw: 32.4554 }), // 21
    Some(BufEntry { area_mm2: 2.897282324, e_read_nj: 0.247932, e_write_nj: 0.278356, leak_mw: 33.348 }), // 22
    Some(BufEntry { area_mm2: 4.503881809, e_read_nj: 0.485822, e_write_nj: 0.583869, leak_mw: 35.5564 }), // 23
    Some(BufEntry { area_mm2: 3.583918894, e_read_nj: 0.156421, e_write_nj: 0.116896, leak_mw: 63.688 }), // 24
    Some(BufEntry { area_mm2: 3.942740844, e_read_nj: 0.21497, e_write_nj: 0.209321, leak_mw: 64.1578 }), // 25
    Some(BufEntry { area_mm2: 4.787940384, e_read_nj: 0.342013, e_write_nj: 0.404114, leak_mw: 65.2978 }), // 26
    Some(BufEntry { area_mm2: 6.782865957, e_read_nj: 0.634498, e_write_nj: 0.8321, leak_mw: 68.0018 }), // 27
    Some(BufEntry { area_mm2: 6.974574682, e_read_nj: 0.27502, e_write_nj: 0.162096, leak_mw: 121.8756 }), // 28
    Some(BufEntry { area_mm2: 7.387286214, e_read_nj: 0.358447, e_write_nj: 0.279398, leak_mw: 122.4862 }), // 29
    Some(BufEntry { area_mm2: 8.510494573, e_read_nj: 0.535426, e_write_nj: 0.524128, leak_mw: 126.032 }), // 30
    Some(BufEntry { area_mm2: 11.13794477, e_read_nj: 0.927837, e_write_nj: 1.05204, leak_mw: 127.5844 }), // 31
    Some(BufEntry { area_mm2: 14.22112082, e_read_nj: 0.356492, e_write_nj: 0.243037, leak_mw: 243.484 }), // 32
    Some(BufEntry { area_mm2: 15.77955259, e_read_nj: 0.508902, e_write_nj: 0.429853, leak_mw: 244.982 }), // 33
    Some(BufEntry { area_mm2: 15.1903479, e_read_nj: 0.795817, e_write_nj: 0.775468, leak_mw: 245.722 }), // 34
    Some(BufEntry { area_mm2: 18.56649221, e_read_nj: 1.29724, e_write_nj: 1.54815, leak_mw: 250.266 }), // 35
    Some(BufEntry { area_mm2: 0.069914533, e_read_nj: 0.00823002, e_write_nj: 0.00983737, leak_mw: 4.33154 }), // 36
    Some(BufEntry { area_mm2: 0.13213, e_read_nj: 0.0183766, e_write_nj: 0.0198855, leak_mw: 4.5899 }), // 37
    Some(BufEntry { area_mm2: 0.266413, e_read_nj: 0.0407038, e_write_nj: 0.0427535, leak_mw: 5.99122 }), // 38
    None, // 39
    Some(BufEntry { area_mm2: 0.117554, e_read_nj: 0.0120839, e_write_nj: 0.0129198, leak_mw: 7.75758 }), // 40
    Some(BufEntry { area_mm2: 0.172761, e_read_nj: 0.0211627, e_write_nj: 0.0243774, leak_mw: 8.25868 }), // 41
    Some(BufEntry { area_mm2: 0.319445, e_read_nj: 0.0454619, e_write_nj: 0.0516229, leak_mw: 9.76298 }), // 42
    Some(BufEntry { area_mm2: 0.885538, e_read_nj: 0.137905, e_write_nj: 0.142004, leak_mw: 14.09702 }), // 43
    Some(BufEntry { area_mm2: 0.185984, e_read_nj: 0.0158937, e_write_nj: 0.0177355, leak_mw: 14.98076 }), // 44
    Some(BufEntry { area_mm2: 0.253431, e_read_nj: 0.026906, e_write_nj: 0.0335322, leak_mw: 15.5835 }), // 45
    Some(BufEntry { area_mm2: 0.424684, e_read_nj: 0.0551001, e_write_nj: 0.0694838, leak_mw: 17.29178 }), // 46
    Some(BufEntry { area_mm2: 0.98738, e_read_nj: 0.147335, e_write_nj: 0.159657, leak_mw: 20.9042 }), // 47
    Some(BufEntry { area_mm2: 0.321651, e_read_nj: 0.0248548, e_write_nj: 0.0237539, leak_mw: 26.6168 }), // 48
    Some(BufEntry { area_mm2: 0.407856, e_read_nj: 0.0394126, e_write_nj: 0.0430962, leak_mw: 27.3042 }), // 49
    Some(BufEntry { area_mm2: 0.621693, e_read_nj: 0.0739843, e_write_nj: 0.0872368, leak_mw: 29.192 }), // 50
    Some(BufEntry { area_mm2: 1.18947, e_read_nj: 0.166219, e_write_nj: 0.194986, leak_mw: 34.5 }), // 51
    Some(BufEntry { area_mm2: 0.552979, e_read_nj: 0.0349618, e_write_nj: 0.0330736, leak_mw: 52.3788 }), // 52
    Some(BufEntry { area_mm2: 0.663547, e_read_nj: 0.053362, e_write_nj: 0.0610694, leak_mw: 53.2686 }), // 53
    Some(BufEntry { area_mm2: 0.92629, e_read_nj: 0.0956746, e_write_nj: 0.122573, leak_mw: 55.5624 }), // 54
    Some(BufEntry { area_mm2: 1.75898, e_read_nj: 0.232081, e_write_nj: 0.258586, leak_mw: 58.7496 }), // 55
    Some(BufEntry { area_mm2: 1.02955, e_read_nj: 0.0583935, e_write_nj: 0.0450215, leak_mw: 96.3408 }), // 56
    Some(BufEntry { area_mm2: 1.16829, e_read_nj: 0.0838554, e_write_nj: 0.0800791, leak_mw: 97.4886 }), // 57
    Some(BufEntry { area_mm2: 1.51204, e_read_nj: 0.140319, e_write_nj: 0.155734, leak_mw: 100.408 }), // 58
    Some(BufEntry { area_mm2: 2.35122, e_read_nj: 0.274961, e_write_nj: 0.328758, leak_mw: 107.6106 }), // 59
    Some(BufEntry { area_mm2: 1.86953, e_read_nj: 0.0905117, e_write_nj: 0.0643685, leak_mw: 191.03 }), // 60
    Some(BufEntry { area_mm2: 2.05688, e_read_nj: 0.123634, e_write_nj: 0.116708, leak_mw: 192.5814 }), // 61
    Some(BufEntry { area_mm2: 2.49820595, e_read_nj: 0.19553, e_write_nj: 0.22704, leak_mw: 196.3112 }), // 62
    Some(BufEntry { area_mm2: 3.532879835, e_read_nj: 0.361147, e_write_nj: 0.469528, leak_mw: 205.136 }), // 63
    Some(BufEntry { area_mm2: 4.110732386, e_read_nj: 0.131652, e_write_nj: 0.0950392, leak_mw: 367.718 }), // 64
    Some(BufEntry { area_mm2: 3.853902632, e_read_nj: 0.206955, e_write_nj: 0.154668, leak_mw: 367.692 }), // 65
    Some(BufEntry { area_mm2: 4.440562411, e_read_nj: 0.307099, e_write_nj: 0.293248, leak_mw: 372.76 }), // 66
    Some(BufEntry { area_mm2: 5.812866337, e_read_nj: 0.52924, e_write_nj: 0.592261, leak_mw: 384.374 }), // 67
    Some(BufEntry { area_mm2: 7.345004718, e_read_nj: 0.205608, e_write_nj: 0.133284, leak_mw: 730.276 }), // 68
    Some(BufEntry { area_mm2: 8.232069955, e_read_nj: 0.291566, e_write_nj: 0.23928, leak_mw: 735.414 }), // 69
    Some(BufEntry { area_mm2: 7.924741251, e_read_nj: 0.462242, e_write_nj: 0.435794, leak_mw: 737.946 }), // 70
    Some(BufEntry { area_mm2: 9.68755797, e_read_nj: 0.746234, e_write_nj: 0.873636, leak_mw: 752.802 }), // 71
    Some(BufEntry { area_mm2: 0.026389593, e_read_nj: 0.00366611, e_write_nj: 0.00431575, leak_mw: 3.06844 }), // 72
    Some(BufEntry { area_mm2: 0.049106366, e_read_nj: 0.00805114, e_write_nj: 0.00864673, leak_mw: 3.22544 }), // 73
    Some(BufEntry { area_mm2: 0.099338763, e_read_nj: 0.0174977, e_write_nj: 0.0182943, leak_mw: 4.1977 }), // 74
    None, // 75
    Some(BufEntry { area_mm2: 0.043660718, e_read_nj: 0.00545155, e_write_nj: 0.00571403, leak_mw: 5.51418 }), // 76
    Some(BufEntry { area_mm2: 0.064295773, e_read_nj: 0.00929243, e_write_nj: 0.0105917, leak_mw: 5.85956 }), // 77
    Some(BufEntry { area_mm2: 0.119224229, e_read_nj: 0.0195678, e_write_nj: 0.0221228, leak_mw: 6.90244 }), // 78
    Some(BufEntry { area_mm2: 0.333979075, e_read_nj: 0.0587335, e_write_nj: 0.0603267, leak_mw: 9.92618 }), // 79
    Some(BufEntry { area_mm2: 0.06910098, e_read_nj: 0.00717156, e_write_nj: 0.00778673, leak_mw: 10.65116 }), // 80
    Some(BufEntry { area_mm2: 0.094371317, e_read_nj: 0.0118251, e_write_nj: 0.0145317, leak_mw: 11.06626 }), // 81
    Some(BufEntry { area_mm2: 0.177026169, e_read_nj: 0.0272345, e_write_nj: 0.0298331, leak_mw: 11.4876 }), // 82
    Some(BufEntry { area_mm2: 0.372578216, e_read_nj: 0.0628241, e_write_nj: 0.0679341, leak_mw: 14.86772 }), // 83
    Some(BufEntry { area_mm2: 0.12167763, e_read_nj: 0.0113831, e_write_nj: 0.010522, leak_mw: 19.25676 }), // 84
    Some(BufEntry { area_mm2: 0.154207863, e_read_nj: 0.0175339, e_write_nj: 0.0187642, leak_mw: 19.72618 }), // 85
    Some(BufEntry { area_mm2: 0.234897385, e_read_nj: 0.0321178, e_write_nj: 0.0375312, leak_mw: 21.0248 }), // 86
    Some(BufEntry { area_mm2: 0.426436442, e_read_nj: 0.0709932, e_write_nj: 0.0831368, leak_mw: 24.6852 }), // 87
    Some(BufEntry { area_mm2: 0.209317302, e_read_nj: 0.0160867, e_write_nj: 0.0145269, leak_mw: 37.9354 }), // 88
    Some(BufEntry { area_mm2: 0.251074, e_read_nj: 0.0238524, e_write_nj: 0.0264935, leak_mw: 38.5436 }), // 89
    Some(BufEntry { area_mm2: 0.350283787, e_read_nj: 0.0416899, e_write_nj: 0.0527328, leak_mw: 40.1206 }), // 90
    Some(BufEntry { area_mm2: 0.664606538, e_read_nj: 0.0996046, e_write_nj: 0.110431, leak_mw: 42.1506 }), // 91
    Some(BufEntry { area_mm2: 0.389828369, e_read_nj: 0.0272693, e_write_nj: 0.0199489, leak_mw: 69.7894 }), // 92
    Some(BufEntry { area_mm2: 0.442063443, e_read_nj: 0.0380164, e_write_nj: 0.0348969, leak_mw: 70.5706 }), // 93
    Some(BufEntry { area_mm2: 0.571793236, e_read_nj: 0.0618288, e_write_nj: 0.067111, leak_mw: 72.5732 }), // 94
    Some(BufEntry { area_mm2: 0.88844989, e_read_nj: 0.118533, e_write_nj: 0.140623, leak_mw: 77.5184 }), // 95
    Some(BufEntry { area_mm2: 0.707812758, e_read_nj: 0.0426012, e_write_nj: 0.0282674, leak_mw: 138.4138 }), // 96
    Some(BufEntry { area_mm2: 0.779322414, e_read_nj: 0.0565679, e_write_nj: 0.0506538, leak_mw: 139.4718 }), // 97
    Some(BufEntry { area_mm2: 0.945248378, e_read_nj: 0.0868665, e_write_nj: 0.0977918, leak_mw: 142.0298 }), // 98
    Some(BufEntry { area_mm2: 1.335949489, e_read_nj: 0.156594, e_write_nj: 0.201198, leak_mw: 148.0884 }), // 99
    Some(BufEntry { area_mm2: 1.692348078, e_read_nj: 0.0624646, e_write_nj: 0.0595076, leak_mw: 299.266 }), // 100
    Some(BufEntry { area_mm2: 1.758800264, e_read_nj: 0.097861, e_write_nj: 0.108967, leak_mw: 299.666 }), // 101
    Some(BufEntry { area_mm2: 1.680181012, e_read_nj: 0.138328, e_write_nj: 0.1265, leak_mw: 269.828 }), // 102
    Some(BufEntry { area_mm2: 2.198122156, e_read_nj: 0.231921, e_write_nj: 0.253771, leak_mw: 277.794 }), // 103
    Some(BufEntry { area_mm2: 2.972110865, e_read_nj: 0.0933836, e_write_nj: 0.0789223, leak_mw: 551.922 }), // 104
    Some(BufEntry { area_mm2: 3.116036246, e_read_nj: 0.131128, e_write_nj: 0.102461, leak_mw: 532.732 }), // 105
    Some(BufEntry { area_mm2: 3.763339813, e_read_nj: 0.210481, e_write_nj: 0.198653, leak_mw: 539.688 }), // 106
    Some(BufEntry { area_mm2: 3.665484947, e_read_nj: 0.330414, e_write_nj: 0.374836, leak_mw: 544.616 }), // 107
];
