//! Layer tables of the built-in networks against PyTorch-derived golden tables.

use rnc::network::{Network, ofa, zoo};
use rnc::partition::{PartitionOptions, partition};
use std::path::Path;

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/layers")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Compares every column of the golden CSV with the network and its 128x128, D=1 partition.
fn check_table(net: &Network, csv_name: &str) {
    let text = fixture(csv_name);
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
        assert_eq!(&rec[col("module")], l.name, "{ctx}");
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

#[test]
fn mbv3_small_64() {
    let net = zoo::build("mbv3-small", 64, 10).unwrap();
    assert_eq!(net.layers.len(), 63);
    check_table(&net, "mbv3-small_64.csv");
}

#[test]
fn squeezenet1_1_64() {
    let net = zoo::build("squeezenet1_1", 64, 10).unwrap();
    assert_eq!(net.layers.len(), 26);
    check_table(&net, "squeezenet1_1_64.csv");
}

#[test]
fn resnet18_64() {
    let net = zoo::build("resnet18", 64, 10).unwrap();
    assert_eq!(net.layers.len(), 21);
    check_table(&net, "resnet18_64.csv");
}

#[test]
fn ofa_subnets_match_their_tables() {
    let mut checked = 0;
    for tag in ["min", "mid", "max", "rand1", "rand2", "rand3"] {
        for res in [32, 64] {
            let genome = ofa::Genome::from_json(&fixture(&format!("ofa_mbv3_{tag}_{res}.json"))).unwrap();
            let net = ofa::build(&genome, res, 10).unwrap();
            check_table(&net, &format!("ofa_mbv3_{tag}_{res}.csv"));
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}

#[test]
fn golden_tile_counts() {
    let tiles = |name: &str, d: usize| {
        let net = zoo::build(name, 64, 10).unwrap();
        let opts = PartitionOptions {
            depth_split: d,
            ..Default::default()
        };
        partition(&net, &opts).unwrap().tiles()
    };
    assert_eq!(tiles("mbv3-small", 1), 210);
    assert_eq!(tiles("mbv3-small", 5), 249);
    assert_eq!(tiles("squeezenet1_1", 1), 80);
    assert_eq!(tiles("resnet18", 1), 698);
}

#[test]
fn golden_area_bounds() {
    let bound = |name: &str| {
        let net = zoo::build(name, 64, 10).unwrap();
        partition(&net, &PartitionOptions::default())
            .unwrap()
            .area_lower_bound()
    };
    assert_eq!(bound("mbv3-small"), 102);
    assert_eq!(bound("squeezenet1_1"), 45);
    assert_eq!(bound("resnet18"), 682);
}

#[test]
fn edges_point_forward_and_reach_every_layer() {
    for name in zoo::MODELS {
        let net = zoo::build(name, 64, 10).unwrap();
        for &(u, v) in &net.edges {
            assert!(u < v, "{name}: edge {u}->{v}");
        }
        // Every layer but the first has a predecessor; every layer but the last a successor.
        for i in 1..net.layers.len() {
            assert!(
                net.edges.iter().any(|&(_, v)| v == i),
                "{name}: layer {i} has no input"
            );
        }
        for i in 0..net.layers.len() - 1 {
            assert!(
                net.edges.iter().any(|&(u, _)| u == i),
                "{name}: layer {i} has no output"
            );
        }
    }
}

#[test]
fn too_small_inputs_are_refused() {
    let e = zoo::build("squeezenet1_1", 8, 10).unwrap_err().to_string();
    assert!(e.contains("too small"), "{e}");
    let e = zoo::build("resnet18", 0, 10).unwrap_err().to_string();
    assert!(e.contains("out of range"), "{e}");
    let e = zoo::build("vgg", 64, 10).unwrap_err().to_string();
    assert!(
        e.contains("unknown model 'vgg'") && e.contains("mbv3-small"),
        "{e}"
    );
}
