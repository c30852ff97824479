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
        assert_eq!(&rec[col("module")], torch_module(&l.name), "{ctx}: node {}", l.name);
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
        assert_eq!(strip(a), strip(b), "{}: layer {} ({} vs {})", zoo.name, a.index, a.name, b.name);
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
        let json = std::fs::read_to_string(fixtures().join(format!("layers/ofa_mbv3_{tag}_64.json"))).unwrap();
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
