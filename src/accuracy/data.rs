//! Fashion-MNIST from the Debian package `dataset-fashion-mnist` (gzip IDX files).
//!
//! Images stay 28x28 bytes in memory; batches are built as 3x32x32 f32 (grey replicated to three
//! channels, padded to the search's 32x32 input). Nothing here needs burn.

use anyhow::{Context, bail};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the Debian package installs the files.
pub const DEFAULT_DIR: &str = "/usr/share/datasets/fashion-mnist";
pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;
/// Side of the network input after padding.
pub const INPUT: usize = 32;
pub const CLASSES: usize = 10;
// Channel statistics of the Fashion-MNIST training set (on 0..1 pixel values).
const MEAN: f32 = 0.2860;
const STD: f32 = 0.3530;

/// Images (row-major bytes, `PIXELS` each) and their labels.
#[derive(Clone, Debug, Default)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }
}

/// The training and test splits.
#[derive(Clone, Debug, Default)]
pub struct FashionMnist {
    pub train: Split,
    pub test: Split,
}

/// The data directory: `--data DIR` if given, else the Debian package's.
pub fn data_dir(arg: Option<&Path>) -> PathBuf {
    arg.map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

impl FashionMnist {
    /// Loads the four gzip IDX files from `dir`; a missing file tells how to install the package.
    pub fn load(dir: &Path) -> anyhow::Result<FashionMnist> {
        let split = |img: &str, lab: &str| -> anyhow::Result<Split> {
            let images = read_idx(&dir.join(img), 3)?;
            let labels = read_idx(&dir.join(lab), 1)?;
            if images.dims[1..] != [SIDE, SIDE] {
                bail!("{img}: images are {:?}, expected 28x28", &images.dims[1..]);
            }
            if images.dims[0] != labels.dims[0] {
                bail!(
                    "{img} has {} images but {lab} has {} labels",
                    images.dims[0],
                    labels.dims[0]
                );
            }
            if let Some(bad) = labels.data.iter().find(|&&l| l as usize >= CLASSES) {
                bail!("{}: label {bad} is not a class 0..9", dir.join(lab).display());
            }
            Ok(Split {
                images: images.data,
                labels: labels.data,
            })
        };
        Ok(FashionMnist {
            train: split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")?,
            test: split("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")?,
        })
    }
}

/// An unsigned-byte IDX array.
#[derive(Debug, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads a gzip IDX file of unsigned bytes with `rank` dimensions.
pub fn read_idx(path: &Path, rank: usize) -> anyhow::Result<Idx> {
    let file = std::fs::File::open(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot open {}: {e}. Install Fashion-MNIST with `apt-get install -y dataset-fashion-mnist` \
             or point --data at a directory holding the four *-ubyte.gz files",
            path.display()
        )
    })?;
    let mut bytes = Vec::new();
    GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: not a readable gzip file", path.display()))?;
    parse_idx(&bytes, rank).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Parses an uncompressed IDX buffer (magic 0x0000_08_RR, big-endian u32 dims, u8 data).
pub fn parse_idx(bytes: &[u8], rank: usize) -> Result<Idx, String> {
    if bytes.len() < 4 {
        return Err("truncated IDX header".into());
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err("bad IDX magic (first two bytes must be 0)".into());
    }
    if bytes[2] != 0x08 {
        return Err(format!(
            "IDX element type 0x{:02x} is not unsigned byte (0x08)",
            bytes[2]
        ));
    }
    if bytes[3] as usize != rank {
        return Err(format!("IDX rank {} where {rank} was expected", bytes[3]));
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err("truncated IDX header".into());
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            u32::from_be_bytes([
                bytes[4 + 4 * i],
                bytes[5 + 4 * i],
                bytes[6 + 4 * i],
                bytes[7 + 4 * i],
            ]) as usize
        })
        .collect();
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("IDX size overflows")?;
    if bytes.len() - header != n {
        return Err(format!(
            "IDX data has {} bytes, dims {dims:?} need {n}",
            bytes.len() - header
        ));
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Normalised 3x32x32 inputs for `indices` of `split`, appended to `out` (NCHW order).
/// `shift` places the 28x28 image at (dy, dx) inside the 32x32 frame (2, 2 is centred) and
/// `flip` mirrors it horizontally; both are training augmentations.
pub fn push_image(out: &mut Vec<f32>, img: &[u8], shift: (usize, usize), flip: bool) {
    let zero = -MEAN / STD;
    let start = out.len();
    out.resize(start + INPUT * INPUT, zero);
    let (dy, dx) = (shift.0.min(INPUT - SIDE), shift.1.min(INPUT - SIDE));
    for y in 0..SIDE {
        for x in 0..SIDE {
            let sx = if flip { SIDE - 1 - x } else { x };
            let v = (img[y * SIDE + sx] as f32 / 255.0 - MEAN) / STD;
            out[start + (y + dy) * INPUT + x + dx] = v;
        }
    }
    // Replicate the grey plane to three channels.
    out.extend_from_within(start..start + INPUT * INPUT);
    out.extend_from_within(start..start + INPUT * INPUT);
}

/// Centred, unaugmented batch of `indices`.
pub fn batch(split: &Split, indices: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(indices.len() * 3 * INPUT * INPUT);
    for &i in indices {
        push_image(&mut out, split.image(i), (2, 2), false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(rank: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, rank];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn parses_idx_and_rejects_bad_headers() {
        let b = idx(3, &[2, 1, 3], &[1, 2, 3, 4, 5, 6]);
        let i = parse_idx(&b, 3).unwrap();
        assert_eq!(i.dims, vec![2, 1, 3]);
        assert_eq!(i.data, vec![1, 2, 3, 4, 5, 6]);
        assert!(parse_idx(&b, 1).unwrap_err().contains("rank 3"));
        assert!(parse_idx(&b[..b.len() - 1], 3).unwrap_err().contains("5 bytes"));
        let mut bad = b.clone();
        bad[2] = 0x0d;
        assert!(parse_idx(&bad, 3).unwrap_err().contains("0x0d"));
        assert!(parse_idx(&[0, 0], 1).is_err());
    }

    #[test]
    fn missing_files_say_how_to_install() {
        let e = FashionMnist::load(Path::new("/nonexistent-rnc-dir"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("apt-get install -y dataset-fashion-mnist"), "{e}");
    }

    #[test]
    fn reads_gzip_idx_written_here() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("rnc-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&idx(1, &[3], &[7, 8, 9])).unwrap();
        std::fs::write(&p, enc.finish().unwrap()).unwrap();
        assert_eq!(read_idx(&p, 1).unwrap().data, vec![7, 8, 9]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn images_are_padded_and_replicated() {
        let mut img = vec![0u8; PIXELS];
        img[0] = 255; // top-left pixel
        let mut out = Vec::new();
        push_image(&mut out, &img, (2, 2), false);
        assert_eq!(out.len(), 3 * INPUT * INPUT);
        let hi = (1.0 - MEAN) / STD;
        let lo = -MEAN / STD;
        for c in 0..3 {
            let p = &out[c * INPUT * INPUT..(c + 1) * INPUT * INPUT];
            assert!((p[2 * INPUT + 2] - hi).abs() < 1e-6);
            assert!((p[0] - lo).abs() < 1e-6);
            assert_eq!(p.iter().filter(|&&v| v > 0.0).count(), 1);
        }
        let mut out = Vec::new();
        push_image(&mut out, &img, (0, 4), true);
        assert!((out[4 + SIDE - 1] - hi).abs() < 1e-6);
    }
}
