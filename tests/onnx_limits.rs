//! Absurdly large ONNX graphs (issue #11): a 10^5-node model is refused with a clear message
//! naming the file and the limit, quickly and without building tract's model of it.

mod common {
    pub mod onnx_builder;
}
use common::onnx_builder::ModelBuilder;
use rnc::network::onnx::{self, OnnxOptions};
use std::time::Instant;

/// One 1x1 conv followed by `relus` Relu nodes (`relus + 1` nodes).
fn relu_chain(relus: usize) -> Vec<u8> {
    let mut b = ModelBuilder::default();
    let mut x = b.conv("c", "x", 1, 2, [1, 1], [1, 1], [0; 4], [1, 1], 1);
    for i in 0..relus {
        x = b.node("Relu", &[&x], &format!("r{i}"), vec![]);
    }
    b.build(&[1, 4, 4], &x)
}

/// `n` 1x1 convs in a chain.
fn conv_chain(n: usize) -> Vec<u8> {
    let mut b = ModelBuilder::default();
    let mut x = "x".to_string();
    for i in 0..n {
        x = b.conv(&format!("c{i}"), &x, 1, 1, [1, 1], [1, 1], [0; 4], [1, 1], 1);
    }
    b.build(&[1, 4, 4], &x)
}

#[test]
fn hundred_thousand_nodes_are_refused_quickly() {
    for (what, bytes) in [
        ("relu chain", relu_chain(99_999)),
        ("conv chain", conv_chain(100_000)),
    ] {
        let t = Instant::now();
        let e = onnx::load_bytes("huge", &bytes, None, &OnnxOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{what}: a 10^5-node graph was imported"));
        let msg = e.to_string();
        assert!(msg.contains("100000 nodes"), "{what}: {msg}");
        assert!(msg.contains(&onnx::MAX_NODES.to_string()), "{what}: {msg}");
        // Refused before shape inference: well under a second even in a debug build.
        assert!(t.elapsed().as_secs_f64() < 5.0, "{what}: took {:?}", t.elapsed());
    }
}

#[test]
fn the_limit_names_the_file() {
    let p = std::env::temp_dir().join(format!("rnc-onnx-limits-{}.onnx", std::process::id()));
    std::fs::write(&p, relu_chain(onnx::MAX_NODES)).unwrap();
    let e = onnx::load(&p, &OnnxOptions::default()).unwrap_err().to_string();
    let _ = std::fs::remove_file(&p);
    assert!(e.starts_with(&p.display().to_string()), "{e}");
    assert!(e.contains("at most"), "{e}");
}

#[test]
fn a_graph_at_the_limit_imports_in_bounded_time() {
    // The largest accepted graph: every node a weight layer (the worst case downstream).
    let t = Instant::now();
    let imp = onnx::load_bytes(
        "big",
        &relu_chain(onnx::MAX_NODES - 1),
        None,
        &OnnxOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imp.network.layers.len(), 1);
    eprintln!("{} nodes imported in {:?}", onnx::MAX_NODES, t.elapsed());
}
