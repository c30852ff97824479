//! Partition invariants over random layers and crossbar sizes.

use proptest::prelude::*;
use rnc::network::{ConvSpec, NetworkBuilder};
use rnc::partition::{Crossbar, DepthwiseMapping, PartitionOptions, partition};

fn layer_strategy() -> impl Strategy<Value = (usize, usize, usize, usize, usize, bool)> {
    // (cin, cout, kernel, input side, groups selector, depthwise)
    (
        1usize..300,
        1usize..300,
        prop::sample::select(vec![1usize, 3, 5, 7, 11]),
        1usize..40,
        1usize..5,
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tiles_cover_each_box_exactly(
        (cin, cout, k, side, gsel, dw) in layer_strategy(),
        rows in 1usize..300, cols in 1usize..300, d in 1usize..8, diag in any::<bool>(),
    ) {
        let mut b = NetworkBuilder::new("p", cin, [side + k, side + k]).unwrap();
        let x = b.input();
        let spec = if dw {
            ConvSpec::square(cin, k, 1).groups(cin)
        } else {
            let g = (1..=gsel).rev().find(|g| cin % g == 0 && cout % g == 0).unwrap_or(1);
            ConvSpec::square(cout, k, 1).groups(g)
        };
        b.conv("l", &x, spec).unwrap();
        let net = b.finish();
        let depthwise = if diag { DepthwiseMapping::Diagonal } else { DepthwiseMapping::Serial };
        let opts = PartitionOptions { xbar: Crossbar { rows, cols }, depth_split: d, depthwise, bit_slices: 1 };
        let part = partition(&net, &opts).unwrap();
        let lp = &part.layers[0];
        let layer = &net.layers[0];
        // No tile larger than the crossbar, none empty, all inside the box.
        for t in &lp.tiles {
            prop_assert!(t.rows >= 1 && t.rows <= rows && t.cols >= 1 && t.cols <= cols, "{t:?}");
            prop_assert!(t.row0 + t.rows <= lp.bx.rows && t.col0 + t.cols <= lp.bx.cols, "{t:?} outside {:?}", lp.bx);
            prop_assert!(t.cycles >= 1 && t.cycles <= lp.bx.cycles);
        }
        // Every cell of the box lies in exactly one tile (serial and non-depthwise layouts);
        // the diagonal layout may leave the unused corner of a narrow last group out.
        let mut cover = vec![0u8; lp.bx.rows * lp.bx.cols];
        for t in &lp.tiles {
            for r in t.row0..t.row0 + t.rows {
                for c in t.col0..t.col0 + t.cols {
                    cover[r * lp.bx.cols + c] += 1;
                }
            }
        }
        prop_assert!(cover.iter().all(|&n| n <= 1), "a cell is doubled");
        if !(layer.is_depthwise() && diag) {
            prop_assert!(cover.iter().all(|&n| n == 1), "a cell is lost");
            prop_assert_eq!(lp.cells(), lp.bx.rows as u64 * lp.bx.cols as u64);
        }
        // Depthwise: the tiles' activations add up to the layer's (column groups split them).
        if layer.is_depthwise() {
            let per_col_group: u64 = lp.tiles.iter().filter(|t| t.row0 == 0).map(|t| t.cycles).sum();
            if diag {
                prop_assert!(per_col_group >= lp.bx.cycles);
            } else {
                prop_assert_eq!(per_col_group, lp.bx.cycles);
            }
        } else {
            prop_assert!(lp.tiles.iter().all(|t| t.cycles == lp.bx.cycles));
        }
    }
}
