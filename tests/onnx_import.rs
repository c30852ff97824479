//! ONNX import against the PyTorch-derived golden tables, the built-in zoo, and hand-made
//! models covering every attribute the importer reads.

use rnc::network::onnx::{OnnxErrorKind, OnnxImport, OnnxOptions, load};
use rnc::network::{LayerKind, Network, ofa, zoo};
use rnc::partition::{PartitionOptions, partition};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn import(rel: &str, opts: &OnnxOptions) -> OnnxImport {
    let p = fixtures().join("onnx").join(rel);
    load(&p, opts).unwrap_or_else(|e| panic!("{e}"))
}

fn net(rel: &str) -> Network {
    import(rel, &OnnxOptions::default()).network
}

/// PyTorch export names a node after its module scopes, e.g.
/// `/bottlenecks/bottlenecks.0/bottleneck/bottleneck.3/Conv` for module
/// `bottlenecks.0.bottleneck.3`: each scope repeats its parent's local name.
fn torch_module(node: &str) -> String {
    let parts: Vec<&str> = node.trim_start_matches('/').split('/').collect();
    if parts.len() < 2 {
        return node.to_string();
    }
    let mut path: Vec<String> = Vec::new();
    let mut local = "";
    for p in &parts[..parts.len() - 1] {
        match p.strip_prefix(local).and_then(|s| s.strip_prefix('.')) {
            Some(child) if !local.is_empty() => path.push(child.to_string()),
            _ => path.push(p.to_string()),
        }
        local = p;
    }
    path.join(".")
}

/// Every column of a golden layer table against the network and its 128x128, D=1 partition.
fn check_table(net: &Network, csv_name: &str) {
    let p = fixtures().join("layers").join(csv_name);
    let text = std::fs::read_to_string(&p).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let part = partition(net, &PartitionOptions::default()).unwrap();
    let mut rows = 0;
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.unwrap();
        let n = |c: &str| rec[col(c)].parse::<u64>().unwrap();
        let l = &net.layers[i];
        let p = &part.layers[i];
        let ctx = format!("{csv_name} row {i} ({})", &rec[col("module")]);
        assert_eq!(n("idx") as usize, l.index, "{ctx}");
        assert_eq!(&rec[col("kind")], l.kind.to_string(), "{ctx}");
        assert_eq!(
            &rec[col("module")],
            torch_module(&l.name),
            "{ctx}: node {}",
            l.name
        );
        let got = [
            l.in_channels,
            l.out_channels,
            l.kernel[0],
            l.kernel[1],
            l.stride[0],
            l.stride[1],
            l.padding[0],
            l.padding[1],
            l.dilation[0],
            l.dilation[1],
            l.groups,
            l.input_hw[0],
            l.input_hw[1],
            l.output_hw[0],
            l.output_hw[1],
            p.bx.rows,
            p.bx.cols,
        ];
        let names = [
            "cin", "cout", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw", "groups", "in_h", "in_w", "out_h",
            "out_w", "box_h", "box_w",
        ];
        for (g, name) in got.iter().zip(names) {
            assert_eq!(n(name) as usize, *g, "{ctx} column {name}");
        }
        assert_eq!(n("cycles"), p.bx.cycles, "{ctx} cycles");
        assert_eq!(n("tiles") as usize, p.tiles.len(), "{ctx} tiles");
        rows += 1;
    }
    assert_eq!(rows, net.layers.len(), "{csv_name}: layer count");
}

/// Same layers (all shapes), boxes, tiles and edges; names may differ.
fn assert_twins(onnx: &Network, zoo: &Network) {
    assert_eq!(onnx.layers.len(), zoo.layers.len(), "{}: layer count", zoo.name);
    for (a, b) in onnx.layers.iter().zip(&zoo.layers) {
        let strip = |l: &rnc::network::Layer| rnc::network::Layer {
            name: String::new(),
            ..l.clone()
        };
        assert_eq!(
            strip(a),
            strip(b),
            "{}: layer {} ({} vs {})",
            zoo.name,
            a.index,
            a.name,
            b.name
        );
    }
    assert_eq!(onnx.input_channels, zoo.input_channels);
    assert_eq!(onnx.input_hw, zoo.input_hw);
    assert_eq!(onnx.edges, zoo.edges, "{}: edges", zoo.name);
    let pa = partition(onnx, &PartitionOptions::default()).unwrap();
    let pb = partition(zoo, &PartitionOptions::default()).unwrap();
    assert_eq!(pa.tiles(), pb.tiles());
    for (x, y) in pa.layers.iter().zip(&pb.layers) {
        assert_eq!(x.bx, y.bx);
        assert_eq!(x.tiles, y.tiles);
    }
}

#[test]
fn pytorch_exports_match_their_tables() {
    for (file, table, layers) in [
        ("mbv3-small_64.onnx.gz", "mbv3-small_64.csv", 63),
        ("squeezenet1_1_64.onnx.gz", "squeezenet1_1_64.csv", 26),
        ("ofa_mbv3_min_64.onnx.gz", "ofa_mbv3_min_64.csv", 0),
        ("ofa_mbv3_mid_64.onnx.gz", "ofa_mbv3_mid_64.csv", 0),
        ("ofa_mbv3_max_64.onnx.gz", "ofa_mbv3_max_64.csv", 0),
    ] {
        let imp = import(file, &OnnxOptions::default());
        assert!(imp.skipped.is_empty());
        let n = &imp.network;
        if layers > 0 {
            assert_eq!(n.layers.len(), layers, "{file}");
        }
        assert_eq!((n.input_channels, n.input_hw), (3, [64, 64]), "{file}");
        check_table(n, table);
        for &(u, v) in &n.edges {
            assert!(u < v, "{file}: edge {u}->{v}");
        }
    }
}

#[test]
fn zoo_networks_have_identical_onnx_twins() {
    for (file, model) in [
        ("mbv3-small_64.onnx.gz", "mbv3-small"),
        ("squeezenet1_1_64.onnx.gz", "squeezenet1_1"),
        ("gen/resnet18_64.onnx.gz", "resnet18"),
    ] {
        let onnx = net(file);
        let zoo = zoo::build(model, 64, 10).unwrap();
        assert_twins(&onnx, &zoo);
    }
    check_table(&net("gen/resnet18_64.onnx.gz"), "resnet18_64.csv");
}

#[test]
fn ofa_exports_have_the_genome_builders_edges() {
    for tag in ["min", "mid", "max"] {
        let json =
            std::fs::read_to_string(fixtures().join(format!("layers/ofa_mbv3_{tag}_64.json"))).unwrap();
        let genome = ofa::Genome::from_json(&json).unwrap();
        let built = ofa::build(&genome, 64, 10).unwrap();
        assert_twins(&net(&format!("ofa_mbv3_{tag}_64.onnx.gz")), &built);
    }
}

#[test]
fn other_input_sizes_follow_the_zoo() {
    for (file, model, side) in [
        ("mbv3-small_64.onnx.gz", "mbv3-small", 32),
        ("squeezenet1_1_64.onnx.gz", "squeezenet1_1", 97),
        ("gen/resnet18_64.onnx.gz", "resnet18", 40),
    ] {
        let opts = OnnxOptions {
            input: Some([side, side]),
            ..Default::default()
        };
        let onnx = import(file, &opts).network;
        assert_twins(&onnx, &zoo::build(model, side, 10).unwrap());
    }
}

mod common {
    pub mod onnx_builder;
}
use common::onnx_builder::{ModelBuilder, int, ints, string};

/// (name, kind, cin, cout, kernel, stride, begin pads, dilation, groups, in, out)
type Row = (
    &'static str,
    LayerKind,
    usize,
    usize,
    [usize; 2],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    usize,
    [usize; 2],
    [usize; 2],
);

fn assert_rows(net: &Network, rows: &[Row]) {
    assert_eq!(net.layers.len(), rows.len(), "{}", net.name);
    for (l, r) in net.layers.iter().zip(rows) {
        let got = (
            l.name.as_str(),
            l.kind,
            l.in_channels,
            l.out_channels,
            l.kernel,
            l.stride,
            l.padding,
            l.dilation,
            l.groups,
            l.input_hw,
            l.output_hw,
        );
        assert_eq!(&got, r, "{}: layer {}", net.name, l.index);
    }
}

#[test]
fn every_conv_attribute_gemm_and_matmul() {
    use LayerKind::{Conv, Linear};
    let n = net("gen/cases.onnx");
    assert_eq!(n.name, "cases");
    assert_eq!((n.input_channels, n.input_hw), (3, [32, 32]));
    #[rustfmt::skip]
    assert_rows(&n, &[
        ("plain", Conv, 3, 8, [3, 3], [1, 1], [1, 1], [1, 1], 1, [32, 32], [32, 32]),
        ("depthwise", Conv, 8, 8, [3, 3], [2, 2], [1, 1], [1, 1], 8, [32, 32], [16, 16]),
        ("grouped", Conv, 8, 16, [3, 3], [1, 1], [1, 1], [1, 1], 4, [16, 16], [16, 16]),
        ("dilated", Conv, 16, 16, [3, 3], [1, 1], [2, 2], [2, 2], 1, [16, 16], [16, 16]),
        // SAME_UPPER, 16 -> 8 with k3 s2: one pad row/column in total, at the end.
        ("same_upper", Conv, 16, 16, [3, 3], [2, 2], [0, 0], [1, 1], 1, [16, 16], [8, 8]),
        // SAME_LOWER, k2 s1: the one pad goes first.
        ("same_lower", Conv, 16, 16, [2, 2], [1, 1], [1, 1], [1, 1], 1, [8, 8], [8, 8]),
        // pads [0, 1, 1, 2]: begin pads kept, output from the real (asymmetric) sizes.
        ("asymmetric", Conv, 16, 8, [3, 3], [1, 1], [0, 1], [1, 1], 1, [8, 8], [7, 9]),
        ("valid_rect", Conv, 8, 8, [3, 2], [1, 2], [0, 0], [1, 1], 1, [7, 9], [5, 4]),
        ("fc1", Linear, 24, 32, [1, 1], [1, 1], [0, 0], [1, 1], 1, [1, 1], [1, 1]),
        ("fc2", Linear, 32, 12, [1, 1], [1, 1], [0, 0], [1, 1], 1, [1, 1], [1, 1]),
        ("fc3", Linear, 12, 10, [1, 1], [1, 1], [0, 0], [1, 1], 1, [1, 1], [1, 1]),
    ]);
    // Residual add (grouped + dilated -> same_upper), concat of two pooled branches into fc1.
    assert_eq!(
        n.edges,
        vec![
            (0, 1),
            (1, 2),
            (2, 3),
            (2, 4),
            (3, 4),
            (4, 5),
            (4, 8),
            (5, 6),
            (6, 7),
            (7, 8),
            (8, 9),
            (9, 10)
        ]
    );
    let part = partition(&n, &PartitionOptions::default()).unwrap();
    let boxes: Vec<(u64, u64, u64)> = part
        .layers
        .iter()
        .map(|p| (p.bx.rows as u64, p.bx.cols as u64, p.bx.cycles))
        .collect();
    assert_eq!(boxes[1], (9, 8, 8 * 16 * 16), "depthwise: serial mapping");
    assert_eq!(boxes[2], (18, 16, 4 * 16 * 16), "grouped: g * Hout * Wout");
    assert_eq!(boxes[6], (144, 8, 63));
    assert_eq!(boxes[7], (48, 8, 20));
}

#[test]
fn sequences_and_1d_convolutions() {
    use LayerKind::Conv;
    // MatMul at 16 positions: a 1x1 convolution over 1 x 16; the activation-activation
    // MatMul between them is data flow, not a layer.
    let n = net("gen/tokens.onnx");
    #[rustfmt::skip]
    assert_rows(&n, &[
        ("proj", Conv, 32, 64, [1, 1], [1, 1], [0, 0], [1, 1], 1, [1, 16], [1, 16]),
        ("out", Conv, 16, 8, [1, 1], [1, 1], [0, 0], [1, 1], 1, [1, 16], [1, 16]),
    ]);
    assert_eq!(n.edges, vec![(0, 1)]);
    let part = partition(&n, &PartitionOptions::default()).unwrap();
    assert_eq!(part.layers[0].bx.cycles, 16);

    let n = net("gen/conv1d.onnx");
    #[rustfmt::skip]
    assert_rows(&n, &[
        ("c1", Conv, 4, 8, [1, 5], [1, 2], [0, 2], [1, 1], 1, [1, 50], [1, 25]),
        ("c2", Conv, 8, 8, [1, 3], [1, 1], [0, 1], [1, 1], 1, [1, 25], [1, 25]),
    ]);
    assert_eq!((n.input_channels, n.input_hw), (4, [1, 50]));
}

#[test]
fn unnamed_nodes_get_stable_names() {
    let n = net("gen/unnamed.onnx");
    let names: Vec<&str> = n.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["Conv_0", "Conv_2"]);
}

#[test]
fn unsupported_ops_fail_or_are_skipped() {
    let p = fixtures().join("onnx/gen/unsupported.onnx");
    let e = load(&p, &OnnxOptions::default()).unwrap_err();
    assert!(
        matches!(&e.kind, OnnxErrorKind::Unsupported { node, op, .. } if node == "up" && op == "ConvTranspose")
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with(&p.display().to_string()) && msg.contains("--skip-unsupported"),
        "{msg}"
    );

    let opts = OnnxOptions {
        skip_unsupported: true,
        ..Default::default()
    };
    let imp = load(&p, &opts).unwrap();
    assert_eq!(imp.skipped.len(), 1);
    assert_eq!(
        (imp.skipped[0].node.as_str(), imp.skipped[0].op.as_str()),
        ("up", "ConvTranspose")
    );
    let n = &imp.network;
    assert_eq!(n.layers.len(), 2);
    // The skipped op still carries data: head -> (up) -> tail, at the upsampled size.
    assert_eq!(n.edges, vec![(0, 1)]);
    assert_eq!(n.layers[1].input_hw, [16, 16]);
}

#[test]
fn bad_files_give_clear_errors() {
    let dir = std::env::temp_dir().join(format!("rnc-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gen_dir = fixtures().join("onnx/gen");
    let raw = std::fs::read(gen_dir.join("cases.onnx")).unwrap();
    let gz = std::fs::read(fixtures().join("onnx/mbv3-small_64.onnx.gz")).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let opts = OnnxOptions::default();
    let kind = |p: &Path| {
        let e = load(p, &opts).unwrap_err();
        assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
        e.kind
    };
    // Truncated anywhere: never a panic, always an error naming the file.
    for cut in [1, 10, 100, raw.len() / 3, raw.len() / 2, raw.len() - 1] {
        let p = write("cut.onnx", &raw[..cut]);
        assert!(
            matches!(kind(&p), OnnxErrorKind::NotOnnx(_) | OnnxErrorKind::Input(_)),
            "cut at {cut}"
        );
    }
    let p = write("cut.onnx.gz", &gz[..gz.len() / 2]);
    assert!(matches!(kind(&p), OnnxErrorKind::Gzip(_)));
    let p = write("text.onnx", b"name,value\nconv,3\n");
    assert!(matches!(kind(&p), OnnxErrorKind::NotOnnx(_)));
    assert!(matches!(kind(&dir.join("missing.onnx")), OnnxErrorKind::Read(_)));
    assert!(matches!(
        kind(&gen_dir.join("no_weights.onnx")),
        OnnxErrorKind::NoWeightLayers
    ));
    let e = kind(&gen_dir.join("symbolic_hw.onnx"));
    assert!(e.to_string().contains("--input"), "{e}");
    std::fs::remove_dir_all(&dir).ok();

    // Symbolic height and width are fine once the size is given.
    let opts = OnnxOptions {
        input: Some([20, 24]),
        ..Default::default()
    };
    let n = load(&gen_dir.join("symbolic_hw.onnx"), &opts).unwrap().network;
    assert_eq!(n.layers[0].output_hw, [20, 24]);
}

#[test]
fn too_small_inputs_are_refused_like_the_zoo() {
    // tract would give a 3x3 pooling window on a 1x1 map one output; PyTorch refuses it.
    let opts = OnnxOptions {
        input: Some([8, 8]),
        ..Default::default()
    };
    let e = load(&fixtures().join("onnx/squeezenet1_1_64.onnx.gz"), &opts).unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
    assert!(zoo::build("squeezenet1_1", 8, 10).is_err());
    for side in [9, 15, 16, 17, 23] {
        let ok_zoo = zoo::build("squeezenet1_1", side, 10).is_ok();
        let opts = OnnxOptions {
            input: Some([side, side]),
            ..Default::default()
        };
        let onnx = load(&fixtures().join("onnx/squeezenet1_1_64.onnx.gz"), &opts);
        assert_eq!(onnx.is_ok(), ok_zoo, "side {side}");
        if let Ok(imp) = onnx {
            assert_twins(&imp.network, &zoo::build("squeezenet1_1", side, 10).unwrap());
        }
    }
}

#[test]
fn mobilenet_v2_built_in_rust() {
    let bytes = common::onnx_builder::mobilenet_v2(224);
    let imp = rnc::network::onnx::load_bytes("mbv2", &bytes, None, &OnnxOptions::default()).unwrap();
    let n = imp.network;
    assert_eq!(n.layers.len(), 53);
    // torchvision's 3,504,872 parameters less 34,112 batch-norm ones and 1,000 biases.
    assert_eq!(n.weights(), 3_469_760);
    assert_eq!(n.layers.last().unwrap().kind, LayerKind::Linear);
    assert_eq!(n.layers[n.layers.len() - 2].output_hw, [7, 7]);
}

/// Output length along one axis by the ONNX formula (floor), `None` when the window does not fit.
fn onnx_out(input: usize, k: usize, s: usize, pb: usize, pe: usize, d: usize) -> Option<usize> {
    let span = d * (k - 1) + 1;
    let padded = input + pb + pe;
    (padded >= span).then(|| (padded - span) / s + 1)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Any single convolution: shapes and begin pads as ONNX defines them, or an error.
    #[test]
    fn random_convolutions(
        g in proptest::sample::select(vec![1usize, 2, 3]),
        a in 1usize..4, b in 1usize..4,
        kh in 1usize..5, kw in 1usize..5,
        sh in 1usize..4, sw in 1usize..4,
        dh in 1usize..3, dw in 1usize..3,
        pads in proptest::array::uniform4(0usize..3),
        h in 1usize..20, w in 1usize..20,
        same in proptest::bool::ANY,
    ) {
        let (cin, cout) = (g * a, g * b);
        let mut mb = ModelBuilder::default();
        let y = if same {
            let wt = mb.weight("w", &[cout, a, kh, kw]);
            mb.node("Conv", &["x", &wt], "c", vec![
                int("group", g as i64),
                ints("strides", &[sh as i64, sw as i64]),
                ints("dilations", &[dh as i64, dw as i64]),
                string("auto_pad", "SAME_UPPER"),
            ])
        } else {
            mb.conv("c", "x", cin, cout, [kh, kw], [sh, sw], pads, [dh, dw], g)
        };
        let bytes = mb.build(&[cin, h, w], &y);
        let got = rnc::network::onnx::load_bytes("p", &bytes, None, &OnnxOptions::default());
        let (oh, ow, ph, pw) = if same {
            let (oh, ow) = (h.div_ceil(sh), w.div_ceil(sw));
            let total = |o: usize, s: usize, k: usize, d: usize, i: usize| ((o - 1) * s + d * (k - 1) + 1).saturating_sub(i);
            (Some(oh), Some(ow), total(oh, sh, kh, dh, h) / 2, total(ow, sw, kw, dw, w) / 2)
        } else {
            (onnx_out(h, kh, sh, pads[0], pads[2], dh), onnx_out(w, kw, sw, pads[1], pads[3], dw), pads[0], pads[1])
        };
        match (oh, ow) {
            (Some(oh), Some(ow)) if oh > 0 && ow > 0 => {
                let n = got.map_err(|e| e.to_string()).unwrap().network;
                let l = &n.layers[0];
                proptest::prop_assert_eq!(
                    (l.in_channels, l.out_channels, l.kernel, l.stride, l.padding, l.dilation, l.groups, l.input_hw, l.output_hw),
                    (cin, cout, [kh, kw], [sh, sw], [ph, pw], [dh, dw], g, [h, w], [oh, ow])
                );
            }
            _ => proptest::prop_assert!(got.is_err()),
        }
    }
}

#[test]
fn corrupted_models_never_panic() {
    // A few hundred byte-level mutations of small fixtures: an import may succeed (most bytes
    // are zero weights) or fail, but must return. (A longer run of this found tract panics
    // on malformed attribute lists; they come back as errors.)
    let gen_dir = fixtures().join("onnx/gen");
    let seeds: Vec<Vec<u8>> = ["cases.onnx", "tokens.onnx", "conv1d.onnx", "unsupported.onnx"]
        .iter()
        .map(|f| std::fs::read(gen_dir.join(f)).unwrap())
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut ok, mut failed) = (0, 0);
    for i in 0..400 {
        let mut m = seeds[i % seeds.len()].clone();
        for _ in 0..1 + rnd() % 4 {
            let p = rnd() as usize % m.len();
            m[p] = rnd() as u8;
        }
        match rnc::network::onnx::load_bytes("m", &m, None, &OnnxOptions::default()) {
            Ok(imp) => {
                ok += 1;
                assert!(imp.network.edges.iter().all(|&(u, v)| u < v));
            }
            Err(e) => {
                failed += 1;
                assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
    assert!(ok > 0 && failed > 0, "{ok} {failed}");
}

#[test]
fn quantized_ops_are_weight_layers() {
    use LayerKind::{Conv, Linear};
    let n = net("gen/quantized.onnx");
    #[rustfmt::skip]
    assert_rows(&n, &[
        ("qconv", Conv, 3, 4, [3, 3], [2, 2], [1, 1], [1, 1], 1, [8, 8], [4, 4]),
        ("iconv", Conv, 4, 6, [1, 1], [1, 1], [0, 0], [1, 1], 1, [4, 4], [4, 4]),
        ("qfc", Linear, 96, 10, [1, 1], [1, 1], [0, 0], [1, 1], 1, [1, 1], [1, 1]),
        ("ifc", Linear, 10, 5, [1, 1], [1, 1], [0, 0], [1, 1], 1, [1, 1], [1, 1]),
    ]);
    assert_eq!(n.edges, vec![(0, 1), (1, 2), (2, 3)]);
}

#[test]
fn a_fixed_batch_is_analysed_as_one_sample() {
    let mut mb = ModelBuilder::default();
    let x = mb.conv("c", "x", 3, 8, [3, 3], [1, 1], [1; 4], [1, 1], 1);
    let x = mb.node("GlobalAveragePool", &[&x], "pool", vec![]);
    let x = mb.node("Flatten", &[&x], "flatten", vec![int("axis", 1)]);
    let w = mb.weight("fc.weight", &[8, 4]);
    let y = mb.node("MatMul", &[&x, &w], "fc", vec![]);
    let bytes = mb.build_batch(Some(4), &[3, 10, 12], &y);
    let n = rnc::network::onnx::load_bytes("b", &bytes, None, &OnnxOptions::default())
        .unwrap()
        .network;
    assert_eq!(n.layers[0].output_hw, [10, 12]);
    // Four samples would otherwise look like four positions of the classifier.
    assert_eq!(
        (n.layers[1].kind, n.layers[1].output_hw),
        (LayerKind::Linear, [1, 1])
    );
}

#[test]
fn weights_inside_control_flow_are_unsupported() {
    let p = fixtures().join("onnx/gen/control_flow.onnx");
    let e = load(&p, &OnnxOptions::default()).unwrap_err();
    assert!(
        matches!(&e.kind, OnnxErrorKind::Unsupported { node, op, why } if node == "branch" && op == "If" && why.contains("Conv")),
        "{e}"
    );
    let opts = OnnxOptions {
        skip_unsupported: true,
        ..Default::default()
    };
    let imp = load(&p, &opts).unwrap();
    assert_eq!(imp.network.layers.len(), 1);
    assert_eq!(imp.skipped[0].op, "If");
}
