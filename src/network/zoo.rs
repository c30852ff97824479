//! Built-in networks, buildable at any input size.
//!
//! Layer order is PyTorch's execution order, the order the reference's tables use.

use super::{ConvSpec, Network, NetworkBuilder, NetworkError, Tensor};

/// Names accepted by [`build`].
pub const MODELS: &[&str] = &["mbv3-small", "squeezenet1_1", "resnet18"];

/// Error for a model name that is not in the zoo.
#[derive(Debug, thiserror::Error)]
#[error("unknown model '{0}'; built-in models are: {list}", list = MODELS.join(", "))]
pub struct UnknownModel(pub String);

/// Errors of [`build`].
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    #[error(transparent)]
    Unknown(#[from] UnknownModel),
    #[error(transparent)]
    Network(#[from] NetworkError),
}

/// Builds a zoo model at a square `input` size with `classes` outputs.
pub fn build(name: &str, input: usize, classes: usize) -> Result<Network, ZooError> {
    let net = match name {
        "mbv3-small" => mbv3_small(input, classes)?,
        "squeezenet1_1" => squeezenet1_1(input, classes)?,
        "resnet18" => resnet18(input, classes)?,
        other => return Err(UnknownModel(other.to_string()).into()),
    };
    Ok(net)
}

/// MobileNetV3-small (CIFAR-style: stride-1 first block), squeeze-excite in every block and
/// 1x1-conv shortcuts where the shape changes.
pub fn mbv3_small(input: usize, classes: usize) -> Result<Network, NetworkError> {
    // (kernel, expanded channels, output channels, stride)
    const BLOCKS: [(usize, usize, usize, usize); 11] = [
        (3, 16, 16, 1),
        (3, 72, 24, 2),
        (3, 88, 24, 1),
        (5, 96, 40, 2),
        (5, 240, 40, 1),
        (5, 240, 40, 1),
        (5, 120, 48, 1),
        (5, 144, 48, 1),
        (5, 288, 96, 2),
        (5, 576, 96, 1),
        (5, 576, 96, 1),
    ];
    let mut b = NetworkBuilder::new("mbv3-small", 3, [input, input])?;
    let x = b.input();
    let mut x = b.conv("initial_conv.0", &x, ConvSpec::square(16, 3, 2))?;
    for (i, &(k, exp, out, s)) in BLOCKS.iter().enumerate() {
        let p = format!("bottlenecks.{i}");
        let e = b.conv(&format!("{p}.bottleneck.0"), &x, ConvSpec::square(exp, 1, 1))?;
        let dw = b.conv(
            &format!("{p}.bottleneck.3"),
            &e,
            ConvSpec::square(exp, k, s).groups(exp),
        )?;
        let y = squeeze_excite(
            &mut b,
            &dw,
            exp / 4,
            &format!("{p}.bottleneck.6.SE.1"),
            &format!("{p}.bottleneck.6.SE.4"),
        )?;
        let y = b.conv(&format!("{p}.bottleneck.7"), &y, ConvSpec::square(out, 1, 1))?;
        let short = if s != 1 || x.channels != out {
            b.conv(&format!("{p}.downsample.0"), &x, ConvSpec::square(out, 1, s))?
        } else {
            x
        };
        x = b.merge(&y, &short);
    }
    let x = b.conv("final_conv.0", &x, ConvSpec::square(576, 1, 1))?;
    let x = b.global_pool(&x);
    let x = b.linear("classifier.0", &x, 1280);
    b.linear("classifier.3", &x, classes);
    Ok(b.finish())
}

/// Squeeze-excite: global pool, reduce 1x1, expand 1x1, scale `x`. Returns the scaled tensor.
pub(crate) fn squeeze_excite(
    b: &mut NetworkBuilder,
    x: &Tensor,
    reduced: usize,
    reduce_name: &str,
    expand_name: &str,
) -> Result<Tensor, NetworkError> {
    let pooled = b.global_pool(x);
    let r = b.conv(reduce_name, &pooled, ConvSpec::square(reduced, 1, 1))?;
    let e = b.conv(expand_name, &r, ConvSpec::square(x.channels, 1, 1))?;
    let mut scaled = b.merge(x, &e);
    scaled.hw = x.hw;
    Ok(scaled)
}

/// SqueezeNet 1.1 (torchvision layout, ceil-mode max pooling, 1x1-conv classifier).
pub fn squeezenet1_1(input: usize, classes: usize) -> Result<Network, NetworkError> {
    // (feature index, squeeze, expand) ; None = max pool
    const FEATURES: [Option<(usize, usize, usize)>; 11] = [
        None,
        Some((3, 16, 64)),
        Some((4, 16, 64)),
        None,
        Some((6, 32, 128)),
        Some((7, 32, 128)),
        None,
        Some((9, 48, 192)),
        Some((10, 48, 192)),
        Some((11, 64, 256)),
        Some((12, 64, 256)),
    ];
    let mut b = NetworkBuilder::new("squeezenet1_1", 3, [input, input])?;
    let x = b.input();
    let mut x = b.conv("features.0", &x, ConvSpec::square(64, 3, 2).padding(0))?;
    for (pos, f) in FEATURES.iter().enumerate() {
        match *f {
            None => x = b.pool(&format!("max pool {pos}"), &x, 3, 2, 0, true)?,
            Some((i, sq, ex)) => {
                let s = b.conv(&format!("features.{i}.squeeze"), &x, ConvSpec::square(sq, 1, 1))?;
                let e1 = b.conv(&format!("features.{i}.expand1x1"), &s, ConvSpec::square(ex, 1, 1))?;
                let e3 = b.conv(&format!("features.{i}.expand3x3"), &s, ConvSpec::square(ex, 3, 1))?;
                x = b.concat(&[&e1, &e3]);
            }
        }
    }
    b.conv("classifier.1", &x, ConvSpec::square(classes, 1, 1))?;
    Ok(b.finish())
}

/// ResNet-18, CIFAR variant: 3x3 stride-1 stem, no max pool, global average pool.
pub fn resnet18(input: usize, classes: usize) -> Result<Network, NetworkError> {
    let mut b = NetworkBuilder::new("resnet18", 3, [input, input])?;
    let x = b.input();
    let mut x = b.conv("conv1", &x, ConvSpec::square(64, 3, 1))?;
    for (stage, &width) in [64usize, 128, 256, 512].iter().enumerate() {
        for block in 0..2 {
            let s = if stage > 0 && block == 0 { 2 } else { 1 };
            let p = format!("layer{}.{block}", stage + 1);
            let y = b.conv(&format!("{p}.conv1"), &x, ConvSpec::square(width, 3, s))?;
            let y = b.conv(&format!("{p}.conv2"), &y, ConvSpec::square(width, 3, 1))?;
            let short = if s != 1 || x.channels != width {
                b.conv(&format!("{p}.shortcut.0"), &x, ConvSpec::square(width, 1, s))?
            } else {
                x
            };
            x = b.merge(&y, &short);
        }
    }
    let x = b.global_pool(&x);
    b.linear("linear", &x, classes);
    Ok(b.finish())
}
