//! Pictures of a compilation or a search (SPEC §12), drawn with plotters as SVG (for the HTML
//! report) and PNG (for slides and papers).
//!
//! Every picture is drawn from the files a run leaves in its output folder (`summary.json`,
//! `partition.json`, `pack.csv`, `trace.csv`; `evolution.csv`, `pareto.json`), so `rnc compile
//! --plots`, `rnc search --plots` and `rnc report` draw exactly the same thing.

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Samples shown in the Gantt chart: enough to see the pipeline fill, few enough to read.
pub const GANTT_SAMPLES: usize = 4;

/// The text font of the PNGs: embedded so that no fontconfig or system font is needed.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is compiled in and known to parse; a failure only loses PNG text.
            let _ = plotters::style::register_font("sans-serif", style, FONT);
        }
    });
}

/// One weight layer as `partition.json` describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerInfo {
    pub index: usize,
    pub name: String,
    pub kind: String,
    pub rows: u64,
    pub cols: u64,
    pub cycles: u64,
    pub tiles: usize,
    pub copies: u64,
    pub time_ns: f64,
}

/// One placed tile copy (a row of `pack.csv`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub layer: usize,
    pub copy: u64,
    pub crossbar: usize,
    pub x: u64,
    pub y: u64,
    pub w: u64,
    pub h: u64,
}

/// One layer execution (a row of `trace.csv`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exec {
    pub layer: usize,
    pub sample: usize,
    pub start_ns: f64,
    pub end_ns: f64,
}

/// What a compile output folder holds.
#[derive(Clone, Debug)]
pub struct CompileData {
    /// `summary.json` as read.
    pub summary: serde_json::Value,
    pub network: String,
    /// Crossbar rows × columns.
    pub xbar: [u64; 2],
    pub layers: Vec<LayerInfo>,
    pub tiles: Vec<Placed>,
    /// `trace.csv` if present.
    pub trace: Option<Vec<Exec>>,
    pub period_ns: f64,
}

/// One candidate of a search (`evolution.csv` row or `pareto.json` entry).
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub generation: usize,
    pub id: u64,
    /// The genome as text (compact JSON).
    pub genome: String,
    pub feasible: bool,
    pub accuracy: Option<f64>,
    pub speedup: f64,
    /// Read energy per inference (nJ), when energy was an objective.
    pub energy_nj: Option<f64>,
    pub latency_ns: f64,
    pub crossbars_used: usize,
}

/// What a search output folder holds.
#[derive(Clone, Debug)]
pub struct SearchData {
    pub all: Vec<Candidate>,
    pub front: Vec<Candidate>,
}

impl SearchData {
    /// No candidate has an accuracy: a hardware-only run.
    pub fn hardware_only(&self) -> bool {
        self.all.iter().chain(&self.front).all(|c| c.accuracy.is_none())
    }

    /// Some candidate has an energy: energy was an objective.
    pub fn has_energy(&self) -> bool {
        self.all.iter().chain(&self.front).any(|c| c.energy_nj.is_some())
    }
}

fn read(dir: &Path, name: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let p = dir.join(name);
    std::fs::read(&p).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("{}: missing ({what})", p.display())
        } else {
            anyhow::anyhow!("{}: cannot read: {e}", p.display())
        }
    })
}

fn json_at<'a>(v: &'a serde_json::Value, key: &str, file: &str) -> anyhow::Result<&'a serde_json::Value> {
    v.get(key)
        .ok_or_else(|| anyhow::anyhow!("{file}: key '{key}' missing"))
}

fn u64_at(v: &serde_json::Value, key: &str, file: &str) -> anyhow::Result<u64> {
    json_at(v, key, file)?
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("{file}: key '{key}' is not a non-negative integer"))
}

fn f64_at(v: &serde_json::Value, key: &str, file: &str) -> anyhow::Result<f64> {
    json_at(v, key, file)?
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("{file}: key '{key}' is not a number"))
}

fn str_at(v: &serde_json::Value, key: &str, file: &str) -> anyhow::Result<String> {
    Ok(json_at(v, key, file)?
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("{file}: key '{key}' is not a string"))?
        .to_string())
}

/// Parses a CSV with a header into rows of named fields.
fn csv_rows<T>(
    bytes: &[u8],
    file: &str,
    need: &[&str],
    mut f: impl FnMut(&dyn Fn(&str) -> anyhow::Result<String>) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    let mut rd = csv::Reader::from_reader(bytes);
    let header = rd
        .headers()
        .with_context(|| format!("{file}: bad header"))?
        .clone();
    let mut idx = Vec::with_capacity(need.len());
    for n in need {
        let i = header
            .iter()
            .position(|h| h == *n)
            .ok_or_else(|| anyhow::anyhow!("{file}: column '{n}' missing"))?;
        idx.push(i);
    }
    let mut out = Vec::new();
    for (k, rec) in rd.records().enumerate() {
        let line = k + 2;
        let rec = rec.with_context(|| format!("{file} line {line}"))?;
        let get = |n: &str| -> anyhow::Result<String> {
            let j = need.iter().position(|x| *x == n).map(|p| idx[p]);
            j.and_then(|j| rec.get(j))
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("{file} line {line}: column '{n}' missing"))
        };
        out.push(f(&get).with_context(|| format!("{file} line {line}"))?);
    }
    Ok(out)
}

fn num<T: std::str::FromStr>(s: &str, col: &str) -> anyhow::Result<T> {
    s.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "column '{col}': '{}' is not a valid number",
            crate::error::printable(s)
        )
    })
}

impl CompileData {
    /// Reads a folder written by `rnc compile --out DIR` (trace.csv is optional).
    pub fn load(dir: &Path) -> anyhow::Result<CompileData> {
        let sbytes = read(dir, "summary.json", "written by rnc compile --out")?;
        let summary: serde_json::Value =
            serde_json::from_slice(&sbytes).context("summary.json: not valid JSON")?;
        let pbytes = read(dir, "partition.json", "written by rnc compile --out")?;
        let part: serde_json::Value =
            serde_json::from_slice(&pbytes).context("partition.json: not valid JSON")?;
        let pf = "partition.json";
        let xbar_s = str_at(&part, "xbar", pf)?;
        let xbar: crate::partition::Crossbar = xbar_s.parse().map_err(|e: String| {
            anyhow::anyhow!("partition.json: key 'xbar': {}", crate::error::printable(&e))
        })?;
        let layers_v = json_at(&part, "layers", pf)?
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("partition.json: key 'layers' is not an array"))?;
        let mut layers = Vec::with_capacity(layers_v.len());
        for (i, l) in layers_v.iter().enumerate() {
            let f = format!("partition.json layers[{i}]");
            let bx = json_at(l, "box", &f)?;
            layers.push(LayerInfo {
                index: u64_at(l, "index", &f)? as usize,
                name: str_at(l, "name", &f)?,
                kind: json_at(l, "kind", &f)?.as_str().unwrap_or("?").to_string(),
                rows: u64_at(bx, "rows", &f)?,
                cols: u64_at(bx, "cols", &f)?,
                cycles: u64_at(bx, "cycles", &f)?,
                tiles: json_at(l, "tiles", &f)?.as_array().map_or(0, |t| t.len()),
                copies: u64_at(l, "copies", &f)?,
                time_ns: f64_at(l, "time_ns", &f)?,
            });
        }
        let pack = read(dir, "pack.csv", "written by rnc compile --out")?;
        let n_layers = layers.len();
        let tiles = csv_rows(
            &pack,
            "pack.csv",
            &["layer", "copy", "crossbar", "x", "y", "w", "h"],
            |g| {
                let t = Placed {
                    layer: num(&g("layer")?, "layer")?,
                    copy: num(&g("copy")?, "copy")?,
                    crossbar: num(&g("crossbar")?, "crossbar")?,
                    x: num(&g("x")?, "x")?,
                    y: num(&g("y")?, "y")?,
                    w: num(&g("w")?, "w")?,
                    h: num(&g("h")?, "h")?,
                };
                if t.layer >= n_layers {
                    anyhow::bail!("layer {} is not in partition.json ({n_layers} layers)", t.layer);
                }
                if t.x + t.w > xbar.cols as u64 || t.y + t.h > xbar.rows as u64 {
                    anyhow::bail!("tile does not fit a {xbar_s} crossbar");
                }
                if t.crossbar >= MAX_CROSSBARS {
                    anyhow::bail!("crossbar {} is beyond {MAX_CROSSBARS}", t.crossbar);
                }
                Ok(t)
            },
        )?;
        let trace = match std::fs::read(dir.join("trace.csv")) {
            Ok(b) => Some(csv_rows(
                &b,
                "trace.csv",
                &["layer", "sample", "start_ns", "end_ns"],
                |g| {
                    let e = Exec {
                        layer: num(&g("layer")?, "layer")?,
                        sample: num(&g("sample")?, "sample")?,
                        start_ns: num(&g("start_ns")?, "start_ns")?,
                        end_ns: num(&g("end_ns")?, "end_ns")?,
                    };
                    if e.layer >= n_layers {
                        anyhow::bail!("layer {} is not in partition.json", e.layer);
                    }
                    if !(e.start_ns.is_finite() && e.end_ns.is_finite()) {
                        anyhow::bail!("times must be finite");
                    }
                    Ok(e)
                },
            )?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => anyhow::bail!("{}: cannot read: {e}", dir.join("trace.csv").display()),
        };
        let sf = "summary.json";
        Ok(CompileData {
            network: str_at(&summary, "network", sf)?,
            period_ns: f64_at(&summary, "period_ns", sf)?,
            summary,
            xbar: [xbar.rows as u64, xbar.cols as u64],
            layers,
            tiles,
            trace,
        })
    }

    /// Crossbars drawn: one past the highest id used.
    pub fn crossbars(&self) -> usize {
        self.tiles.iter().map(|t| t.crossbar + 1).max().unwrap_or(0)
    }
}

/// Pictures never draw more crossbars than this (a bad pack.csv cannot exhaust memory).
const MAX_CROSSBARS: usize = 100_000;

impl SearchData {
    /// Reads a folder written by `rnc search --out DIR`.
    pub fn load(dir: &Path) -> anyhow::Result<SearchData> {
        let ev = read(dir, "evolution.csv", "written by rnc search --out")?;
        // The energy column exists when energy was an objective.
        let with_energy = csv::Reader::from_reader(&ev[..])
            .headers()
            .is_ok_and(|h| h.iter().any(|c| c == "energy_nj"));
        let mut need = vec![
            "generation",
            "id",
            "genome",
            "feasible",
            "accuracy",
            "speedup",
            "latency_ns",
            "crossbars_used",
        ];
        if with_energy {
            need.push("energy_nj");
        }
        let all = csv_rows(&ev, "evolution.csv", &need, |g| {
            let acc = g("accuracy")?;
            let acc = acc.trim();
            let energy_nj = if with_energy {
                let e = g("energy_nj")?;
                let e = e.trim();
                if e.is_empty() {
                    None
                } else {
                    Some(num(e, "energy_nj")?)
                }
            } else {
                None
            };
            Ok(Candidate {
                energy_nj,
                generation: num(&g("generation")?, "generation")?,
                id: num(&g("id")?, "id")?,
                genome: g("genome")?,
                feasible: num(&g("feasible")?, "feasible")?,
                accuracy: if acc.is_empty() {
                    None
                } else {
                    Some(num(acc, "accuracy")?)
                },
                speedup: num(&g("speedup")?, "speedup")?,
                latency_ns: num(&g("latency_ns")?, "latency_ns")?,
                crossbars_used: num(&g("crossbars_used")?, "crossbars_used")?,
            })
        })?;
        let pj = read(dir, "pareto.json", "written by rnc search --out")?;
        let pv: serde_json::Value = serde_json::from_slice(&pj).context("pareto.json: not valid JSON")?;
        let arr = pv
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("pareto.json: expected an array"))?;
        let mut front = Vec::with_capacity(arr.len());
        for (i, m) in arr.iter().enumerate() {
            let f = format!("pareto.json [{i}]");
            front.push(Candidate {
                generation: u64_at(m, "generation", &f)? as usize,
                id: u64_at(m, "id", &f)?,
                genome: json_at(m, "genome", &f)?.to_string(),
                feasible: true,
                accuracy: m.get("accuracy").and_then(|a| a.as_f64()),
                speedup: f64_at(m, "speedup", &f)?,
                energy_nj: match m.get("energy_nj") {
                    None => None,
                    Some(_) => Some(f64_at(m, "energy_nj", &f)?),
                },
                latency_ns: f64_at(m, "latency_ns", &f)?,
                crossbars_used: u64_at(m, "crossbars_used", &f)? as usize,
            });
        }
        Ok(SearchData { all, front })
    }
}

/// A picture that can be drawn on any plotters backend.
pub trait Picture {
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Maps any plotters error to text.
macro_rules! t {
    ($e:expr) => {
        $e.map_err(|e| format!("{e:?}"))?
    };
}

/// The picture as an SVG document.
pub fn svg<P: Picture>(p: &P) -> anyhow::Result<String> {
    // Text is measured with the font for layout even when the SVG names it only.
    register_font();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, p.size()).into_drawing_area();
        p.draw(&root)
            .map_err(|e| crate::error::Internal(format!("drawing SVG: {e}")))?;
        root.present()
            .map_err(|e| crate::error::Internal(format!("drawing SVG: {e:?}")))?;
    }
    Ok(s)
}

/// The picture as a PNG file's bytes.
pub fn png<P: Picture>(p: &P) -> anyhow::Result<Vec<u8>> {
    register_font();
    let (w, h) = p.size();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        p.draw(&root)
            .map_err(|e| crate::error::Internal(format!("drawing PNG: {e}")))?;
        root.present()
            .map_err(|e| crate::error::Internal(format!("drawing PNG: {e:?}")))?;
    }
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, w, h);
        enc.set_color(::png::ColorType::Rgb);
        enc.set_depth(::png::BitDepth::Eight);
        // Plots are flat colour areas: adaptive filtering makes the files several times smaller.
        enc.set_adaptive_filter(::png::AdaptiveFilterType::Adaptive);
        let mut wr = enc
            .write_header()
            .map_err(|e| crate::error::Internal(format!("PNG header: {e}")))?;
        wr.write_image_data(&rgb)
            .map_err(|e| crate::error::Internal(format!("PNG data: {e}")))?;
    }
    Ok(out)
}

/// Writes NAME.svg and NAME.png into `dir`.
pub fn write_both<P: Picture>(dir: &Path, name: &str, p: &P) -> anyhow::Result<()> {
    crate::error::write_atomic(&dir.join(format!("{name}.svg")), svg(p)?.as_bytes())?;
    crate::error::write_atomic(&dir.join(format!("{name}.png")), &png(p)?)?;
    Ok(())
}

/// Draws the pictures of a compile folder from its files (occupancy, periods, and the Gantt
/// chart when `trace.csv` is there): what `rnc report` shows.
pub fn write_compile_pictures(dir: &Path) -> anyhow::Result<()> {
    let d = CompileData::load(dir)?;
    write_both(dir, "occupancy", &Occupancy { data: &d })?;
    write_both(dir, "periods", &Periods { data: &d })?;
    if let Some(tr) = &d.trace {
        let samples = tr
            .iter()
            .map(|e| e.sample + 1)
            .max()
            .unwrap_or(0)
            .min(GANTT_SAMPLES);
        write_both(
            dir,
            "gantt",
            &Gantt {
                data: &d,
                trace: tr,
                samples,
            },
        )?;
    }
    Ok(())
}

/// Distinct colour of layer `i`: hues spaced by the golden angle so neighbours differ.
pub fn layer_color(i: usize) -> RGBColor {
    let h = (i as f64 * 0.618_033_988_75).fract();
    let l = if i.is_multiple_of(2) { 0.55 } else { 0.42 };
    hsl_to_rgb(h, 0.62, l)
}

/// Colour of sample `s` in the Gantt chart.
pub fn sample_color(s: usize) -> RGBColor {
    const P: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    P[s % P.len()]
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> RGBColor {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h * 6.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    RGBColor(to(r), to(g), to(b))
}

fn font(size: f64) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

/// Crossbar occupancy map: every crossbar a square, its tiles at their x/y/w/h, coloured by
/// layer, duplicate copies hatched, the utilisation under each square.
pub struct Occupancy<'a> {
    pub data: &'a CompileData,
}

impl Occupancy<'_> {
    const WIDTH: u32 = 1200;
    const MARGIN: i32 = 20;
    const TITLE: i32 = 54;

    /// Grid columns, square side and gap.
    fn grid(&self) -> (usize, i32, i32) {
        let n = self.data.crossbars().max(1);
        let usable = Self::WIDTH as i32 - 2 * Self::MARGIN;
        // As many columns as keep squares ≥ 64 px, but no more than needed for ~2:1 aspect.
        let cols = ((n as f64 * 2.0).sqrt().ceil() as usize)
            .clamp(1, n)
            .max(usable as usize / 96)
            .min(n);
        let cell = (usable / cols as i32).min(96);
        let gap = (cell / 6).max(3);
        (cols, cell - gap, gap)
    }
}

impl Occupancy<'_> {
    /// Room under a square for its utilisation: text when squares are large, else a bar.
    fn label_height(side: i32) -> i32 {
        if side >= 24 { 13 } else { 5 }
    }
}

impl Picture for Occupancy<'_> {
    fn size(&self) -> (u32, u32) {
        let n = self.data.crossbars().max(1);
        let (cols, side, gap) = self.grid();
        let rows = n.div_ceil(cols) as i32;
        let label = Self::label_height(side);
        let h = Self::TITLE + rows * (side + gap + label) + Self::MARGIN;
        (Self::WIDTH, h.max(120) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        t!(root.fill(&WHITE));
        let n = d.crossbars();
        let [xr, xc] = d.xbar;
        let mut used = vec![0u64; n];
        for t in &d.tiles {
            used[t.crossbar] += t.w * t.h;
        }
        let cells = (xr * xc).max(1) as f64;
        let mean = if n == 0 {
            0.0
        } else {
            used.iter().sum::<u64>() as f64 / (n as f64 * cells)
        };
        t!(root.draw_text(
            &format!(
                "{}: {} crossbars of {}x{}, mean utilisation {:.1}%",
                d.network,
                n,
                xr,
                xc,
                100.0 * mean
            ),
            &font(18.0),
            (Self::MARGIN, 8),
        ));
        t!(root.draw_text(
            if Self::label_height(self.grid().1) < 13 {
                "colour = layer (index on the tile), hatched = duplicate copy, bar under a crossbar = cells used"
            } else {
                "colour = layer (index on the tile), hatched = duplicate copy, #crossbar and % of cells used"
            },
            &font(13.0).color(&RGBColor(90, 90, 90)),
            (Self::MARGIN, 32),
        ));
        let (cols, side, gap) = self.grid();
        let label = Self::label_height(side);
        let origin = |k: usize| -> (i32, i32) {
            let (r, c) = (k / cols, k % cols);
            (
                Self::MARGIN + c as i32 * (side + gap),
                Self::TITLE + r as i32 * (side + gap + label),
            )
        };
        for (k, &u) in used.iter().enumerate() {
            let (x0, y0) = origin(k);
            t!(root.draw(&Rectangle::new(
                [(x0, y0), (x0 + side, y0 + side)],
                RGBColor(238, 238, 238).filled()
            )));
            let frac = (u as f64 / cells).min(1.0);
            if label < 13 {
                // Too small for text: a bar as long as the square is full.
                let len = (frac * side as f64).round() as i32;
                t!(root.draw(&Rectangle::new(
                    [(x0, y0 + side + 1), (x0 + len, y0 + side + 3)],
                    RGBColor(60, 60, 60).filled()
                )));
            } else {
                let style = font(10.0).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Top,
                ));
                t!(root.draw_text(
                    &format!("#{k} {:.0}%", 100.0 * frac),
                    &style,
                    (x0 + side / 2, y0 + side + 1),
                ));
            }
        }
        let sx = side as f64 / xc.max(1) as f64;
        let sy = side as f64 / xr.max(1) as f64;
        for t in &d.tiles {
            let (x0, y0) = origin(t.crossbar);
            let a = (
                x0 + (t.x as f64 * sx).round() as i32,
                y0 + (t.y as f64 * sy).round() as i32,
            );
            let b = (
                x0 + ((t.x + t.w) as f64 * sx).round() as i32,
                y0 + ((t.y + t.h) as f64 * sy).round() as i32,
            );
            let col = layer_color(t.layer);
            t!(root.draw(&Rectangle::new([a, b], col.filled())));
            t!(root.draw(&Rectangle::new([a, b], WHITE.stroke_width(1))));
            if t.copy > 0 {
                hatch(root, a, b)?;
            }
            if b.0 - a.0 >= 18 && b.1 - a.1 >= 12 {
                let style = font(10.0)
                    .color(&WHITE)
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ));
                t!(root.draw_text(&t.layer.to_string(), &style, ((a.0 + b.0) / 2, (a.1 + b.1) / 2)));
            }
        }
        for k in 0..n {
            let (x0, y0) = origin(k);
            t!(root.draw(&Rectangle::new(
                [(x0, y0), (x0 + side, y0 + side)],
                RGBColor(120, 120, 120).stroke_width(1)
            )));
        }
        Ok(())
    }
}

/// Diagonal hatching inside the rectangle a–b (lines x + y = k clipped to it).
fn hatch<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: (i32, i32),
    b: (i32, i32),
) -> Result<(), String> {
    let style = RGBAColor(255, 255, 255, 0.7).stroke_width(1);
    let mut k = a.0 + a.1 + 4;
    while k < b.0 + b.1 {
        let xs = a.0.max(k - b.1);
        let xe = b.0.min(k - a.1);
        if xs < xe {
            t!(root.draw(&PathElement::new(vec![(xs, k - xs), (xe, k - xe)], style)));
        }
        k += 5;
    }
    Ok(())
}

/// Pipeline Gantt chart of the first samples: one row per layer, time across.
pub struct Gantt<'a> {
    pub data: &'a CompileData,
    pub trace: &'a [Exec],
    /// Samples drawn (the first ones).
    pub samples: usize,
}

impl Picture for Gantt<'_> {
    fn size(&self) -> (u32, u32) {
        let n = self.data.layers.len() as u32;
        (1200, (140 + 12 * n).clamp(300, 1400))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        t!(root.fill(&WHITE));
        let n = self.data.layers.len().max(1);
        let shown: Vec<&Exec> = self.trace.iter().filter(|e| e.sample < self.samples).collect();
        let t_end = shown.iter().map(|e| e.end_ns).fold(0.0f64, f64::max).max(1.0) / 1e3;
        let mut chart = t!(ChartBuilder::on(root)
            .caption(
                format!(
                    "{}: pipeline of the first {} sample(s)",
                    self.data.network, self.samples
                ),
                font(18.0)
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            // Layer i is centred on y = −i so that layer 0 is on top and ticks name layers.
            .build_cartesian_2d(0f64..t_end * 1.02, (0.5 - n as f64)..0.5));
        t!(chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("time (µs)")
            .y_desc("layer")
            .y_labels(n.min(25))
            .y_label_formatter(&|y| format!("{}", (-y).round() as i64))
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .draw());
        for s in 0..self.samples {
            let col = sample_color(s);
            let bars = shown.iter().filter(|e| e.sample == s).map(|e| {
                let y = -(e.layer as f64);
                Rectangle::new(
                    [(e.start_ns / 1e3, y - 0.4), (e.end_ns / 1e3, y + 0.4)],
                    col.filled(),
                )
            });
            t!(chart.draw_series(bars))
                .label(format!("sample {s}"))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], col.filled()));
        }
        t!(chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(12.0))
            .draw());
        Ok(())
    }
}

/// Per-layer time t_i against the period.
pub struct Periods<'a> {
    pub data: &'a CompileData,
}

impl Picture for Periods<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 440)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        t!(root.fill(&WHITE));
        let d = self.data;
        let n = d.layers.len().max(1);
        let period = d.period_ns / 1e3;
        let t_max = d
            .layers
            .iter()
            .map(|l| l.time_ns / 1e3)
            .fold(period, f64::max)
            .max(1e-6);
        let mut chart = t!(ChartBuilder::on(root)
            .caption(
                format!("{}: layer time t_i (with its copies) vs the period", d.network),
                font(18.0)
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..n as f64, 0f64..t_max * 1.1));
        t!(chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("layer")
            .y_desc("time (µs)")
            .x_labels(n.min(30))
            .x_label_formatter(&|x| format!("{}", x.floor() as i64))
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .draw());
        t!(chart.draw_series(d.layers.iter().enumerate().map(|(i, l)| {
            Rectangle::new(
                [(i as f64 + 0.1, 0.0), (i as f64 + 0.9, l.time_ns / 1e3)],
                layer_color(l.index).filled(),
            )
        })));
        let red = RGBColor(200, 30, 30);
        t!(chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, period), (n as f64, period)],
            red.stroke_width(2)
        ))))
        .label(format!("period {:.3} µs", period))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], red.stroke_width(2)));
        t!(chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(12.0))
            .draw());
        Ok(())
    }
}

/// The search result: every candidate grey, the front highlighted, ISAAC-like at speed-up 1.
/// Hardware-only runs (no accuracy) show speed-up by generation instead; with energy as an
/// objective, accuracy against speed-up with the front coloured by energy (a colour bar
/// beside), or energy against speed-up without accuracy.
pub struct Pareto<'a> {
    pub data: &'a SearchData,
}

/// A perceptually ordered colour scale (viridis' anchors, linear between them): 0 → dark
/// purple (least energy), 1 → yellow.
fn scale_color(x: f64) -> RGBColor {
    const ANCHORS: [(u8, u8, u8); 5] = [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (253, 231, 37),
    ];
    let x = if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 };
    let pos = x * (ANCHORS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(ANCHORS.len() - 2);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Least and greatest of finite values, widened when equal or empty.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5 * lo.abs().max(1e-9), hi + 0.5 * hi.abs().max(1e-9))
    }
}

impl Pareto<'_> {
    /// Energy against speed-up (a hardware-only run with energy as an objective).
    fn draw_speedup_energy<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        let grey = RGBColor(170, 170, 170);
        let blue = RGBColor(20, 90, 200);
        let red = RGBColor(200, 30, 30);
        let uj = |c: &Candidate| c.energy_nj.map(|e| (c.speedup, e / 1e3));
        let feasible: Vec<(f64, f64)> = d.all.iter().filter(|c| c.feasible).filter_map(uj).collect();
        let mut front: Vec<(f64, f64)> = d.front.iter().filter_map(uj).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let pts = || feasible.iter().chain(&front);
        let sp_max = pts()
            .map(|p| p.0)
            .filter(|s| s.is_finite())
            .fold(1.0f64, f64::max);
        let (lo, hi) = span(pts().map(|p| p.1));
        let pad = (hi - lo) * 0.08;
        let (y0, y1) = ((lo - pad).max(0.0), hi + pad);
        let mut chart = t!(ChartBuilder::on(root)
            .caption(
                "hardware search: energy per inference vs speed-up over ISAAC-like",
                font(18.0)
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..sp_max * 1.1, y0..y1));
        t!(chart
            .configure_mesh()
            .x_desc("speed-up over ISAAC-like")
            .y_desc("energy per inference (µJ)")
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .draw());
        t!(chart.draw_series(feasible.iter().map(|&p| Circle::new(p, 3, grey.filled()))))
            .label("candidate")
            .legend(move |(x, y)| Circle::new((x + 7, y), 3, grey.filled()));
        t!(chart.draw_series(std::iter::once(PathElement::new(
            front.clone(),
            blue.stroke_width(2)
        ))));
        t!(chart.draw_series(front.iter().map(|&p| Circle::new(p, 6, blue.filled()))))
            .label("Pareto front")
            .legend(move |(x, y)| Circle::new((x + 7, y), 5, blue.filled()));
        t!(chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, y0), (1.0, y1)],
            red.stroke_width(2)
        ))))
        .label("ISAAC-like (speed-up 1)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], red.stroke_width(2)));
        t!(chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(12.0))
            .draw());
        Ok(())
    }

    /// Accuracy against speed-up, the front coloured by energy, with a colour bar.
    fn draw_three<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let d = self.data;
        let grey = RGBColor(190, 190, 190);
        let red = RGBColor(200, 30, 30);
        let (w, _) = root.dim_in_pixel();
        let (main, bar) = root.split_horizontally(w.saturating_sub(130));
        let feasible: Vec<&Candidate> = d.all.iter().filter(|c| c.feasible).collect();
        let sp_max = feasible
            .iter()
            .copied()
            .chain(&d.front)
            .map(|c| c.speedup)
            .filter(|s| s.is_finite())
            .fold(1.0f64, f64::max);
        let (lo, hi) = span(
            feasible
                .iter()
                .copied()
                .chain(&d.front)
                .filter_map(|c| c.accuracy),
        );
        let pad = ((hi - lo) * 0.08).max(0.005);
        // The colour scale spans the front's energies (what the colours tell apart).
        let (e_lo, e_hi) = span(d.front.iter().filter_map(|c| c.energy_nj.map(|e| e / 1e3)));
        let color = |e: f64| scale_color((e / 1e3 - e_lo) / (e_hi - e_lo));
        let mut chart = t!(ChartBuilder::on(&main)
            .caption(
                "search: accuracy vs speed-up over ISAAC-like, front coloured by energy",
                font(18.0)
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..sp_max * 1.1, (lo - pad)..(hi + pad)));
        t!(chart
            .configure_mesh()
            .x_desc("speed-up over ISAAC-like")
            .y_desc("accuracy")
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .draw());
        t!(
            chart.draw_series(feasible.iter().filter_map(|c| c.accuracy.map(|a| Circle::new(
                (c.speedup, a),
                3,
                grey.filled()
            ))))
        )
        .label("candidate")
        .legend(move |(x, y)| Circle::new((x + 7, y), 3, grey.filled()));
        // Lowest energy drawn last, on top: the interesting end of the scale stays visible.
        let mut front: Vec<&Candidate> = d.front.iter().filter(|c| c.accuracy.is_some()).collect();
        front.sort_by(|a, b| {
            b.energy_nj
                .unwrap_or(0.0)
                .total_cmp(&a.energy_nj.unwrap_or(0.0))
                .then(a.id.cmp(&b.id))
        });
        let mid = scale_color(0.5);
        t!(chart.draw_series(front.iter().filter_map(|c| {
            let a = c.accuracy?;
            let fill = c.energy_nj.map_or(grey, color);
            Some(
                EmptyElement::at((c.speedup, a))
                    + Circle::new((0, 0), 6, fill.filled())
                    + Circle::new((0, 0), 6, BLACK.stroke_width(1)),
            )
        })))
        .label("Pareto front (accuracy, speed-up, energy)")
        .legend(move |(x, y)| Circle::new((x + 7, y), 5, mid.filled()));
        t!(chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, lo - pad), (1.0, hi + pad)],
            red.stroke_width(2)
        ))))
        .label("ISAAC-like (speed-up 1)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], red.stroke_width(2)));
        t!(chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(12.0))
            .draw());
        // The colour bar: energy per inference of the front, µJ.
        let mut cb = t!(ChartBuilder::on(&bar)
            .margin_top(48)
            .margin_bottom(54)
            .margin_right(8)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..1f64, e_lo..e_hi));
        t!(cb
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc("energy per inference (µJ)")
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .draw());
        const STEPS: usize = 64;
        let step = (e_hi - e_lo) / STEPS as f64;
        t!(cb.draw_series((0..STEPS).map(|i| {
            let y = e_lo + step * i as f64;
            Rectangle::new(
                [(0.0, y), (1.0, y + step)],
                scale_color((i as f64 + 0.5) / STEPS as f64).filled(),
            )
        })));
        Ok(())
    }
}

impl Picture for Pareto<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        t!(root.fill(&WHITE));
        let d = self.data;
        if d.has_energy() {
            return if d.hardware_only() {
                self.draw_speedup_energy(root)
            } else {
                self.draw_three(root)
            };
        }
        let grey = RGBColor(170, 170, 170);
        let blue = RGBColor(20, 90, 200);
        let red = RGBColor(200, 30, 30);
        let feasible: Vec<&Candidate> = d.all.iter().filter(|c| c.feasible).collect();
        let sp_max = feasible
            .iter()
            .copied()
            .chain(&d.front)
            .map(|c| c.speedup)
            .filter(|s| s.is_finite())
            .fold(1.0f64, f64::max);
        if d.hardware_only() {
            let g_max = d.all.iter().map(|c| c.generation).max().unwrap_or(0).max(1) as f64;
            let mut chart = t!(ChartBuilder::on(root)
                .caption(
                    "hardware-only search: speed-up over ISAAC-like by generation",
                    font(18.0)
                )
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(-0.5f64..g_max + 0.5, 0f64..sp_max * 1.1));
            t!(chart
                .configure_mesh()
                .x_desc("generation")
                .y_desc("speed-up over ISAAC-like")
                .label_style(font(12.0))
                .axis_desc_style(font(14.0))
                .draw());
            t!(chart.draw_series(feasible.iter().map(|c| Circle::new(
                (c.generation as f64, c.speedup),
                3,
                grey.filled()
            ))))
            .label("candidate")
            .legend(move |(x, y)| Circle::new((x + 7, y), 3, grey.filled()));
            let mut best = Vec::new();
            let mut b = f64::NEG_INFINITY;
            for g in 0..=g_max as usize {
                for c in feasible.iter().filter(|c| c.generation == g) {
                    b = b.max(c.speedup);
                }
                if b.is_finite() {
                    best.push((g as f64, b));
                }
            }
            t!(chart.draw_series(std::iter::once(PathElement::new(best, blue.stroke_width(2)))))
                .label("best so far")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], blue.stroke_width(2)));
            t!(chart.draw_series(d.front.iter().map(|c| Circle::new(
                (c.generation as f64, c.speedup),
                6,
                blue.filled()
            ))))
            .label("final front")
            .legend(move |(x, y)| Circle::new((x + 7, y), 5, blue.filled()));
            t!(chart.draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, 1.0), (g_max + 0.5, 1.0)],
                red.stroke_width(2)
            ))))
            .label("ISAAC-like (speed-up 1)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], red.stroke_width(2)));
            t!(chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font(font(12.0))
                .draw());
        } else {
            let accs = feasible
                .iter()
                .copied()
                .chain(&d.front)
                .filter_map(|c| c.accuracy);
            let (lo, hi) = accs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| {
                (l.min(a), h.max(a))
            });
            let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
            let pad = ((hi - lo) * 0.08).max(0.005);
            let mut chart = t!(ChartBuilder::on(root)
                .caption("search: accuracy vs speed-up over ISAAC-like", font(18.0))
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..sp_max * 1.1, (lo - pad)..(hi + pad)));
            t!(chart
                .configure_mesh()
                .x_desc("speed-up over ISAAC-like")
                .y_desc("accuracy")
                .label_style(font(12.0))
                .axis_desc_style(font(14.0))
                .draw());
            t!(chart.draw_series(
                feasible
                    .iter()
                    .filter_map(|c| { c.accuracy.map(|a| Circle::new((c.speedup, a), 3, grey.filled())) })
            ))
            .label("candidate")
            .legend(move |(x, y)| Circle::new((x + 7, y), 3, grey.filled()));
            let mut f: Vec<(f64, f64)> = d
                .front
                .iter()
                .filter_map(|c| c.accuracy.map(|a| (c.speedup, a)))
                .collect();
            f.sort_by(|a, b| a.0.total_cmp(&b.0));
            t!(chart.draw_series(std::iter::once(PathElement::new(f.clone(), blue.stroke_width(2)))));
            t!(chart.draw_series(f.iter().map(|&p| Circle::new(p, 6, blue.filled()))))
                .label("Pareto front")
                .legend(move |(x, y)| Circle::new((x + 7, y), 5, blue.filled()));
            t!(chart.draw_series(std::iter::once(PathElement::new(
                vec![(1.0, lo - pad), (1.0, hi + pad)],
                red.stroke_width(2)
            ))))
            .label("ISAAC-like (speed-up 1)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], red.stroke_width(2)));
            t!(chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font(font(12.0))
                .draw());
        }
        Ok(())
    }
}

/// One curve of a non-ideal sweep: accuracy (mean ± std over chips) against a key's values.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSeries {
    pub label: String,
    /// (key value, mean accuracy, std), accuracies as fractions.
    pub points: Vec<(f64, f64, f64)>,
    /// The 9-bit quantized accuracy, drawn dashed as the ideal limit.
    pub quantized: Option<f64>,
}

/// Accuracy against one SimConfig key (`rnc supernet eval --nonideal --sweep`).
pub struct NonidealSweep<'a> {
    pub key: &'a str,
    pub series: &'a [SweepSeries],
}

impl Picture for NonidealSweep<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        t!(root.fill(&WHITE));
        let pts = || self.series.iter().flat_map(|s| s.points.iter());
        let x0 = pts().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let x1 = pts().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        let (x0, x1) = if x0.is_finite() && x1 > x0 {
            (x0, x1)
        } else {
            (x0.min(0.0), x0.max(0.0) + 1.0)
        };
        let pad = (x1 - x0) * 0.04;
        let y_lo = pts()
            .map(|p| (p.1 - p.2) * 100.0)
            .fold(100.0f64, f64::min)
            .clamp(0.0, 100.0);
        let y_lo = (y_lo / 10.0).floor() * 10.0;
        let mut chart = t!(ChartBuilder::on(root)
            .caption(
                format!("accuracy vs {} (mean ± std over chips)", self.key),
                font(18.0)
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d((x0 - pad)..(x1 + pad), y_lo..100.0));
        t!(chart
            .configure_mesh()
            .x_desc(self.key)
            .y_desc("top-1 accuracy (%)")
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .draw());
        for (i, s) in self.series.iter().enumerate() {
            let col = sample_color(i);
            let line: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.1 * 100.0)).collect();
            t!(chart.draw_series(std::iter::once(PathElement::new(
                line.clone(),
                col.stroke_width(2)
            ))))
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], col.stroke_width(2)));
            t!(chart.draw_series(line.iter().map(|&(x, y)| Circle::new((x, y), 4, col.filled()))));
            // Error bars: a vertical stroke from mean − std to mean + std with short caps.
            let cap = (x1 - x0) * 0.01;
            t!(chart.draw_series(s.points.iter().flat_map(|p| {
                let (lo, hi) = ((p.1 - p.2) * 100.0, (p.1 + p.2) * 100.0);
                [
                    PathElement::new(vec![(p.0, lo), (p.0, hi)], col.stroke_width(1)),
                    PathElement::new(vec![(p.0 - cap, lo), (p.0 + cap, lo)], col.stroke_width(1)),
                    PathElement::new(vec![(p.0 - cap, hi), (p.0 + cap, hi)], col.stroke_width(1)),
                ]
            })));
            if let Some(q) = s.quantized {
                // The ideal (quantized) limit as a thin dashed line.
                let y = q * 100.0;
                let steps = 40;
                let w = (x1 - x0 + 2.0 * pad) / steps as f64;
                t!(chart.draw_series((0..steps).step_by(2).map(|i| {
                    let a = x0 - pad + i as f64 * w;
                    PathElement::new(vec![(a, y), (a + w, y)], col.mix(0.6).stroke_width(1))
                })));
            }
        }
        t!(chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(12.0))
            .draw());
        Ok(())
    }
}

/// Energy per layer as stacked bars (crossbar, DAC, ADC, digital, buffers), from
/// `summary.json`'s `energy_breakdown`.
pub struct EnergyBars<'a> {
    pub network: &'a str,
    pub report: &'a crate::report::EnergyReport,
}

impl EnergyBars<'_> {
    /// The breakdown in a compile folder's summary, if it has one.
    pub fn report_of(summary: &serde_json::Value) -> Option<crate::report::EnergyReport> {
        serde_json::from_value(summary.get("energy_breakdown")?.clone()).ok()
    }
}

impl Picture for EnergyBars<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 460)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        t!(root.fill(&WHITE));
        let layers = &self.report.layers;
        let n = layers.len().max(1);
        let top = layers
            .iter()
            .map(|l| l.energy.total / 1e3)
            .fold(0.0, f64::max)
            .max(1e-9);
        let total = &self.report.per_inference_nj;
        let mut chart = t!(ChartBuilder::on(root)
            .caption(
                format!(
                    "{}: energy per layer and component ({:.2} µJ per inference)",
                    self.network,
                    total.total / 1e3
                ),
                font(18.0)
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..n as f64, 0f64..top * 1.1));
        t!(chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("layer")
            .y_desc("energy (µJ)")
            .x_labels(n.min(30))
            .x_label_formatter(&|x| format!("{}", x.floor() as i64))
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .draw());
        for (k, (name, share)) in total.parts().iter().enumerate() {
            let col = sample_color(k);
            let bars: Vec<Rectangle<(f64, f64)>> = layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let parts = l.energy.parts();
                    let below: f64 = parts[..k].iter().map(|p| p.1).sum::<f64>() / 1e3;
                    let h = parts[k].1 / 1e3;
                    Rectangle::new(
                        [(i as f64 + 0.1, below), (i as f64 + 0.9, below + h)],
                        col.filled(),
                    )
                })
                .collect();
            t!(chart.draw_series(bars))
                .label(format!(
                    "{name} {:.0}%",
                    100.0 * share / total.total.max(f64::MIN_POSITIVE)
                ))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
        }
        t!(chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(12.0))
            .draw());
        Ok(())
    }
}
