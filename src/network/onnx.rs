//! ONNX import: the user's own network as a [`Network`].
//!
//! The ONNX protobuf is decoded once; node attributes (groups, strides, pads, auto_pad,
//! dilations, transB, ...) are read from it directly, and tract's inference analysis supplies
//! every tensor's shape at the chosen input size (symbolic batch = 1). tract's analysed
//! inference model keeps one outlet per ONNX tensor name, which is why it is used rather than
//! the typed model, whose nodes no longer map one-to-one to ONNX nodes.
//!
//! Weight layers: every `Conv` (1-D or 2-D; also `ConvInteger`, `QLinearConv`) and every
//! `Gemm` / `MatMul` (also `MatMulInteger`, `QLinearMatMul`) with a constant weight operand.
//! All other nodes carry data: their outputs are produced by the union of the weight layers
//! feeding their inputs, so an edge `u -> v` appears exactly when data flows from `u` to `v`
//! through no other weight layer. `Shape`/`Size` outputs depend on shapes only and carry no
//! producers. Layers are numbered in the graph's topological order as exported.

use super::{Layer, LayerKind, MAX_INPUT_SIDE, Network, NetworkError};
use crate::error::printable;
use prost::Message;
use serde::Serialize;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use tract_onnx::pb;
use tract_onnx::prelude::{InferenceFact, InferenceModel, InferenceModelExt, OutletId};

/// How to import a model.
#[derive(Clone, Debug, Default)]
pub struct OnnxOptions {
    /// Input height and width; `None` keeps the model's own.
    pub input: Option<[usize; 2]>,
    /// Import a model containing weight-bearing ops rnc cannot map, leaving them out (they
    /// still carry the dependence edges) and listing them in [`OnnxImport::skipped`].
    pub skip_unsupported: bool,
}

/// A weight-bearing node left out under `skip_unsupported`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedOp {
    pub node: String,
    pub op: String,
    pub reason: String,
}

impl std::fmt::Display for SkippedOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = format!("skipped node '{}' ({}): {}", self.node, self.op, self.reason);
        f.write_str(&printable(&line))
    }
}

/// The result of an import.
#[derive(Clone, Debug)]
pub struct OnnxImport {
    pub network: Network,
    /// Unsupported weight-bearing nodes that were left out (empty unless `skip_unsupported`).
    pub skipped: Vec<SkippedOp>,
}

/// An import failure; the message names the file. Strings taken from the model go through
/// `printable`, so a message stays one line whatever the file holds.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", file.display())]
pub struct OnnxError {
    pub file: PathBuf,
    pub kind: OnnxErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum OnnxErrorKind {
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    #[error("not a valid gzip file: {0}")]
    Gzip(std::io::Error),
    #[error("not an ONNX model: {}", printable(.0))]
    NotOnnx(String),
    #[error("{}", printable(.0))]
    Input(String),
    #[error(
        "node '{}' ({}): cannot infer shapes: {}",
        printable(node),
        printable(op),
        printable(why)
    )]
    Shape { node: String, op: String, why: String },
    #[error(
        "node '{}' ({}) has weights rnc cannot map: {} (--skip-unsupported imports the rest)",
        printable(node),
        printable(op),
        printable(why)
    )]
    Unsupported { node: String, op: String, why: String },
    #[error("node '{}' ({}): {}", printable(node), printable(op), printable(why))]
    Invalid { node: String, op: String, why: String },
    #[error("no weight layers: the model has no Conv, and no Gemm or MatMul with a constant weight")]
    NoWeightLayers,
    #[error(transparent)]
    Network(#[from] NetworkError),
}

/// Imports an ONNX model (`.onnx`, or gzip-compressed, recognised by content).
pub fn load(path: &Path, opts: &OnnxOptions) -> Result<OnnxImport, OnnxError> {
    let err = |kind| OnnxError {
        file: path.to_path_buf(),
        kind,
    };
    let bytes = std::fs::read(path).map_err(|e| err(OnnxErrorKind::Read(e)))?;
    let name = model_name(path);
    import(&name, &bytes, path.parent(), opts).map_err(err)
}

/// Imports a model from bytes (`.onnx` or gzip). `dir` resolves external weight files.
pub fn load_bytes(
    name: &str,
    bytes: &[u8],
    dir: Option<&Path>,
    opts: &OnnxOptions,
) -> Result<OnnxImport, OnnxErrorKind> {
    import(name, bytes, dir, opts)
}

/// `model.onnx.gz` -> `model`.
fn model_name(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for ext in [".gz", ".onnx"] {
        if let Some(s) = name.strip_suffix(ext) {
            name = s.to_string();
        }
    }
    if name.is_empty() { "onnx".into() } else { name }
}

/// Most nodes an imported graph may have. CNN exports have hundreds to a few thousand; import
/// time grows linearly (about 60 µs a node, 6 s for 10^5), and a bound keeps it and the
/// compiler's later stages predictable.
pub const MAX_NODES: usize = 50_000;

/// Protobuf messages cannot exceed 2 GiB, so neither can a decompressed model.
const MAX_MODEL_BYTES: u64 = 2 << 30;

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, OnnxErrorKind> {
    use std::io::Read;
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(OnnxErrorKind::Gzip)?;
    if out.len() as u64 > MAX_MODEL_BYTES {
        return Err(OnnxErrorKind::NotOnnx("decompresses to more than 2 GiB".into()));
    }
    Ok(out)
}

/// tract errors as one line: every cause, no newlines.
fn one_line(e: &impl std::fmt::Display) -> String {
    format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn import(
    name: &str,
    bytes: &[u8],
    dir: Option<&Path>,
    opts: &OnnxOptions,
) -> Result<OnnxImport, OnnxErrorKind> {
    let unzipped;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        unzipped = gunzip(bytes)?;
        &unzipped[..]
    } else {
        bytes
    };
    let proto = pb::ModelProto::decode(bytes)
        .map_err(|e| OnnxErrorKind::NotOnnx(format!("protobuf decoding failed ({e})")))?;
    let graph = match &proto.graph {
        Some(g) if proto.ir_version > 0 && !g.node.is_empty() => g,
        _ => return Err(OnnxErrorKind::NotOnnx("no graph".into())),
    };
    // Refused before tract analyses the graph, so an absurd file costs only its decoding.
    if graph.node.len() > MAX_NODES {
        return Err(OnnxErrorKind::Input(format!(
            "the graph has {} nodes; rnc imports graphs of at most {MAX_NODES} nodes",
            graph.node.len()
        )));
    }
    let inputs = graph_inputs(graph, opts)?;
    let order = topological_order(graph)?;
    let shapes = infer_shapes(&proto, dir, &inputs)?;
    let mut walker = Walker {
        network: name,
        input_hw: inputs[0].hw,
        shapes: &shapes,
        opts,
        producers: HashMap::new(),
        constant: graph.initializer.iter().map(|t| t.name.as_str()).collect(),
        layers: Vec::new(),
        edges: Vec::new(),
        skipped: Vec::new(),
    };
    for &i in &order {
        walker.node(&graph.node[i], i)?;
    }
    if walker.layers.is_empty() {
        return Err(OnnxErrorKind::NoWeightLayers);
    }
    let image = &inputs[0];
    let mut edges = walker.edges;
    edges.sort_unstable();
    edges.dedup();
    Ok(OnnxImport {
        network: Network {
            name: name.to_string(),
            input_channels: image.channels,
            input_hw: image.hw,
            layers: walker.layers,
            edges,
        },
        skipped: walker.skipped,
    })
}

/// A graph input with the concrete shape it is analysed at.
struct Input {
    shape: Vec<usize>,
    channels: usize,
    hw: [usize; 2],
}

fn dims_text(dims: &[Option<usize>], names: &[String]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .zip(names)
        .map(|(d, n)| d.map_or_else(|| n.clone(), |d| d.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The graph's real inputs (initializers excluded), the image input first, with concrete
/// shapes: symbolic batch = 1, height and width from `opts.input` or the model.
fn graph_inputs(graph: &pb::GraphProto, opts: &OnnxOptions) -> Result<Vec<Input>, OnnxErrorKind> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let real: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_str()))
        .collect();
    if real.is_empty() {
        return Err(OnnxErrorKind::Input("the model has no input".into()));
    }
    let mut out = Vec::new();
    for (ix, vi) in real.iter().enumerate() {
        let shape = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(pb::type_proto::Value::TensorType(t)) => t.shape.as_ref(),
            _ => None,
        };
        let Some(shape) = shape else {
            return Err(OnnxErrorKind::Input(format!(
                "input '{}' has no declared shape{}",
                vi.name,
                if ix == 0 {
                    "; rnc needs at least its rank and channel count"
                } else {
                    ""
                }
            )));
        };
        let dims: Vec<Option<usize>> = shape
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(Dim::DimValue(v)) if *v > 0 => usize::try_from(*v).ok(),
                _ => None,
            })
            .collect();
        let names: Vec<String> = shape
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(Dim::DimParam(p)) if !p.is_empty() => p.clone(),
                _ => "?".into(),
            })
            .collect();
        let shown = dims_text(&dims, &names);
        let rank = dims.len();
        let mut concrete = Vec::with_capacity(rank);
        for (a, d) in dims.iter().enumerate() {
            let v = match (a, d) {
                // rnc maps one sample: a symbolic batch, or the image input's batch, is 1.
                (0, None) if rank > 1 => 1,
                (0, Some(_)) if ix == 0 && rank > 1 => 1,
                (2 | 3, _) if ix == 0 && rank == 4 && opts.input.is_some() => {
                    opts.input.map_or(0, |hw| hw[a - 2])
                }
                (_, Some(v)) => *v,
                (2 | 3, None) if ix == 0 && rank == 4 => {
                    return Err(OnnxErrorKind::Input(format!(
                        "input '{}' has no fixed height and width (shape {shown}); give the size with --input",
                        vi.name
                    )));
                }
                (_, None) => {
                    return Err(OnnxErrorKind::Input(format!(
                        "input '{}' has an unknown dimension {a} (shape {shown})",
                        vi.name
                    )));
                }
            };
            concrete.push(v);
        }
        if ix == 0 {
            let (channels, hw) = match rank {
                4 => (concrete[1], [concrete[2], concrete[3]]),
                3 => (concrete[1], [1, concrete[2]]),
                2 => (concrete[1], [1, 1]),
                _ => {
                    return Err(OnnxErrorKind::Input(format!(
                        "input '{}' has shape {shown}; rnc takes (N, C, H, W), (N, C, L) or (N, F) inputs",
                        vi.name
                    )));
                }
            };
            if opts.input.is_some() && rank != 4 {
                return Err(OnnxErrorKind::Input(format!(
                    "--input sets an image's height and width, but input '{}' has shape {shown}",
                    vi.name
                )));
            }
            let [h, w] = hw;
            if h > MAX_INPUT_SIDE || w > MAX_INPUT_SIDE || h == 0 || w == 0 {
                return Err(NetworkError::InputRange {
                    h,
                    w,
                    why: format!("each side must be between 1 and {MAX_INPUT_SIDE}"),
                }
                .into());
            }
            out.push(Input {
                shape: concrete,
                channels,
                hw,
            });
        } else {
            out.push(Input {
                shape: concrete,
                channels: 0,
                hw: [1, 1],
            });
        }
    }
    Ok(out)
}

/// Concrete shapes of the ONNX tensors, by name, from tract's analysis.
struct Shapes {
    model: InferenceModel,
    outlets: HashMap<String, OutletId>,
    /// tract's first analysis error, shown when a shape the import needs is missing.
    analysis_error: Option<String>,
}

impl Shapes {
    fn get(&self, tensor: &str) -> Option<Vec<usize>> {
        let outlet = self.outlets.get(tensor)?;
        let fact = self.model.outlet_fact(*outlet).ok()?;
        let dims = fact.shape.as_concrete_finite().ok()??;
        Some(dims.into_iter().collect())
    }
}

fn infer_shapes(
    proto: &pb::ModelProto,
    dir: Option<&Path>,
    inputs: &[Input],
) -> Result<Shapes, OnnxErrorKind> {
    // value_info holds shapes at the exported size, which conflict with another --input.
    let onnx = tract_onnx::onnx().with_ignore_value_info(true);
    let dir = dir.and_then(Path::to_str);
    let parsed = quietly(|| onnx.parse(proto, dir))
        .map_err(|p| OnnxErrorKind::NotOnnx(format!("tract failed while reading the graph ({p})")))?
        .map_err(|e| OnnxErrorKind::NotOnnx(format!("tract cannot read the graph: {}", one_line(&e))))?;
    let mut model = parsed.model;
    for (ix, input) in inputs.iter().enumerate() {
        let fact = model
            .input_fact(ix)
            .cloned()
            .unwrap_or_else(|_| InferenceFact::default());
        let fact = fact.with_shape(
            input
                .shape
                .iter()
                .copied()
                .collect::<tract_onnx::prelude::TVec<usize>>(),
        );
        model
            .set_input_fact(ix, fact)
            .map_err(|e| OnnxErrorKind::Input(format!("cannot set input {ix}: {}", one_line(&e))))?;
    }
    let analysis = quietly(|| match model.analyse(false) {
        Ok(_) => None,
        Err(e) => {
            // Keep going past the failing node so shapes elsewhere are still known.
            let _ = model.analyse(true);
            Some(one_line(&e))
        }
    });
    let analysis_error = analysis.map_err(|p| {
        OnnxErrorKind::NotOnnx(format!(
            "tract failed during shape inference, malformed model? ({p})"
        ))
    })?;
    Ok(Shapes {
        model,
        outlets: parsed.outlets_by_name,
        analysis_error,
    })
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs tract, turning a panic into an error message without printing it: tract is not ours
/// to audit, and some malformed models (e.g. attribute lists of the wrong length) make it
/// index out of bounds. Only panics on this thread, inside `f`, are silenced.
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    r.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into())
    })
}

/// Node indices in topological order, ties broken by position in the file (so an exported,
/// already sorted graph keeps its order).
fn topological_order(graph: &pb::GraphProto) -> Result<Vec<usize>, OnnxErrorKind> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            producer.insert(o.as_str(), i);
        }
    }
    let known: HashSet<&str> = graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .collect();
    for out in &graph.output {
        if !producer.contains_key(out.name.as_str()) && !known.contains(out.name.as_str()) {
            return Err(OnnxErrorKind::NotOnnx(format!(
                "graph output '{}' is not produced by any node",
                out.name
            )));
        }
    }
    let n = graph.node.len();
    let mut indegree = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in graph.node.iter().enumerate() {
        for inp in node.input.iter().filter(|s| !s.is_empty()) {
            match producer.get(inp.as_str()) {
                Some(&p) => {
                    indegree[i] += 1;
                    users[p].push(i);
                }
                None if known.contains(inp.as_str()) => {}
                None => {
                    return Err(OnnxErrorKind::Invalid {
                        node: node_name(node, i),
                        op: node.op_type.clone(),
                        why: format!(
                            "input '{inp}' is neither a graph input, an initializer nor a node output"
                        ),
                    });
                }
            }
        }
    }
    let mut ready: BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
        .filter(|&i| indegree[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        for &u in &users[i] {
            indegree[u] -= 1;
            if indegree[u] == 0 {
                ready.push(std::cmp::Reverse(u));
            }
        }
    }
    if order.len() < n {
        let stuck = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
        let node = &graph.node[stuck];
        return Err(OnnxErrorKind::Invalid {
            node: node_name(node, stuck),
            op: node.op_type.clone(),
            why: "the graph has a cycle through this node".into(),
        });
    }
    Ok(order)
}

/// The node's ONNX name, or `<op>_<position in the graph>` when it has none.
fn node_name(node: &pb::NodeProto, position: usize) -> String {
    if node.name.is_empty() {
        format!("{}_{position}", node.op_type)
    } else {
        node.name.clone()
    }
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_int(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

fn attr_ints<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a [i64]> {
    attr(node, name).map(|a| a.ints.as_slice())
}

fn attr_str(node: &pb::NodeProto, name: &str) -> String {
    attr(node, name).map_or_else(String::new, |a| String::from_utf8_lossy(&a.s).into_owned())
}

/// Ops that carry weights rnc has no mapping for.
const UNSUPPORTED_WEIGHT_OPS: &[&str] = &["ConvTranspose", "DeformConv", "LSTM", "GRU", "RNN"];

/// What a node is, for the import.
enum Role {
    /// A weight layer.
    Layer(Layer),
    /// A weight-bearing op rnc cannot map.
    Unsupported(String),
    /// Carries data only.
    Data,
}

struct Walker<'a> {
    network: &'a str,
    input_hw: [usize; 2],
    shapes: &'a Shapes,
    opts: &'a OnnxOptions,
    /// Weight layers whose outputs reach each tensor through no other weight layer.
    producers: HashMap<String, Vec<usize>>,
    /// Tensors whose value is known without running the network (initializers and what is
    /// computed from them only).
    constant: HashSet<&'a str>,
    layers: Vec<Layer>,
    edges: Vec<(usize, usize)>,
    skipped: Vec<SkippedOp>,
}

impl<'a> Walker<'a> {
    fn node(&mut self, node: &'a pb::NodeProto, position: usize) -> Result<(), OnnxErrorKind> {
        let name = node_name(node, position);
        let mut inputs: Vec<&str> = node
            .input
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        // Control-flow subgraphs read outer tensors by name: data flows through them too.
        let mut inner = Vec::new();
        subgraph_inputs(node, &mut inner);
        inputs.extend(inner.into_iter().filter(|i| self.producers.contains_key(*i)));
        let all_const =
            inputs.iter().all(|i| self.constant.contains(i)) && subgraph_weight_op(node).is_none();
        let mut incoming: Vec<usize> = inputs
            .iter()
            .filter_map(|i| self.producers.get(*i))
            .flatten()
            .copied()
            .collect();
        incoming.sort_unstable();
        incoming.dedup();
        let role = if all_const && !is_random(&node.op_type) {
            Role::Data
        } else {
            self.role(node, &name)?
        };
        if matches!(node.op_type.as_str(), "MaxPool" | "AveragePool" | "LpPool") {
            self.check_pool(node, &name)?;
        }
        let produced = match role {
            Role::Layer(mut layer) => {
                let idx = self.layers.len();
                layer.index = idx;
                self.edges.extend(incoming.iter().map(|&p| (p, idx)));
                self.layers.push(layer);
                vec![idx]
            }
            Role::Unsupported(why) => {
                if !self.opts.skip_unsupported {
                    return Err(OnnxErrorKind::Unsupported {
                        node: name,
                        op: node.op_type.clone(),
                        why,
                    });
                }
                self.skipped.push(SkippedOp {
                    node: name,
                    op: node.op_type.clone(),
                    reason: why,
                });
                incoming
            }
            // A tensor's shape does not depend on the values that produced it.
            Role::Data if matches!(node.op_type.as_str(), "Shape" | "Size") => Vec::new(),
            Role::Data => incoming,
        };
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            if all_const && !is_random(&node.op_type) {
                self.constant.insert(out.as_str());
            }
            self.producers.insert(out.clone(), produced.clone());
        }
        Ok(())
    }

    fn shape(&self, node: &pb::NodeProto, name: &str, tensor: &str) -> Result<Vec<usize>, OnnxErrorKind> {
        self.shapes.get(tensor).ok_or_else(|| OnnxErrorKind::Shape {
            node: name.to_string(),
            op: node.op_type.clone(),
            why: match &self.shapes.analysis_error {
                Some(e) => format!("the shape of '{tensor}' is unknown; tract: {e}"),
                None => format!("the shape of '{tensor}' is unknown"),
            },
        })
    }

    fn is_const(&self, node: &pb::NodeProto, ix: usize) -> bool {
        node.input
            .get(ix)
            .is_some_and(|i| self.constant.contains(i.as_str()))
    }

    fn role(&self, node: &pb::NodeProto, name: &str) -> Result<Role, OnnxErrorKind> {
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        if !standard {
            // An op from another domain with a constant matrix operand is taken as
            // weight-bearing: silently dropping its weights would understate the network.
            let has_weight = (0..node.input.len()).any(|i| {
                self.is_const(node, i)
                    && self
                        .shapes
                        .get(&node.input[i])
                        .is_some_and(|s| s.len() >= 2 && s.iter().any(|&d| d > 1))
            });
            return Ok(if has_weight {
                Role::Unsupported(format!("op from domain '{}' with a constant weight", node.domain))
            } else {
                Role::Data
            });
        }
        if let Some(op) = subgraph_weight_op(node) {
            return Ok(Role::Unsupported(format!("its subgraph contains a {op} node")));
        }
        match node.op_type.as_str() {
            "Conv" | "ConvInteger" => self.conv(node, name, 0, 1),
            "QLinearConv" => self.conv(node, name, 0, 3),
            "Gemm" => self.matmul(node, name, 0, 1, true),
            "MatMul" | "MatMulInteger" => self.matmul(node, name, 0, 1, false),
            "QLinearMatMul" => self.matmul(node, name, 0, 3, false),
            "Einsum" if (0..node.input.len()).any(|i| self.is_const(node, i)) => {
                Ok(Role::Unsupported("Einsum with a constant operand".into()))
            }
            op if UNSUPPORTED_WEIGHT_OPS.contains(&op) => {
                Ok(Role::Unsupported(format!("{op} is not mapped")))
            }
            _ => Ok(Role::Data),
        }
    }

    /// tract gives a pooling window larger than its padded input one output position;
    /// PyTorch and the ONNX formula give none, so such an input size is refused here.
    fn check_pool(&self, node: &pb::NodeProto, name: &str) -> Result<(), OnnxErrorKind> {
        let Some(x) = node.input.first().and_then(|i| self.shapes.get(i)) else {
            return Ok(());
        };
        let auto_pad = attr_str(node, "auto_pad");
        if x.len() < 3 || auto_pad.starts_with("SAME") {
            return Ok(());
        }
        let spatial = x.len() - 2;
        let Some(kernel) = attr_ints(node, "kernel_shape") else {
            return Ok(());
        };
        let pads = attr_ints(node, "pads").filter(|p| p.len() == 2 * spatial && auto_pad != "VALID");
        for (a, &k) in kernel.iter().enumerate().take(spatial) {
            let d = attr_ints(node, "dilations")
                .and_then(|v| v.get(a).copied())
                .unwrap_or(1);
            let span = d.max(1) * (k.max(1) - 1) + 1;
            let padded = x[2 + a] as i64 + pads.map_or(0, |p| p[a] + p[a + spatial]);
            if padded < span {
                return Err(NetworkError::EmptyPool {
                    network: self.network.to_string(),
                    h: self.input_hw[0],
                    w: self.input_hw[1],
                    what: format!("node '{name}' ({})", node.op_type),
                }
                .into());
            }
        }
        Ok(())
    }

    fn invalid(node: &pb::NodeProto, name: &str, why: String) -> OnnxErrorKind {
        OnnxErrorKind::Invalid {
            node: name.to_string(),
            op: node.op_type.clone(),
            why,
        }
    }

    fn conv(
        &self,
        node: &pb::NodeProto,
        name: &str,
        x_ix: usize,
        w_ix: usize,
    ) -> Result<Role, OnnxErrorKind> {
        let tensor = |ix: usize| {
            node.input
                .get(ix)
                .map(String::as_str)
                .ok_or_else(|| Self::invalid(node, name, format!("missing input {ix}")))
        };
        let x = self.shape(node, name, tensor(x_ix)?)?;
        let w = self.shape(node, name, tensor(w_ix)?)?;
        let out_name = node
            .output
            .first()
            .ok_or_else(|| Self::invalid(node, name, "no output".into()))?;
        let y = self.shape(node, name, out_name)?;
        let rank = x.len();
        if rank == 5 {
            return Ok(Role::Unsupported("3-D convolution".into()));
        }
        if !(rank == 3 || rank == 4) || w.len() != rank || y.len() != rank {
            return Err(Self::invalid(
                node,
                name,
                format!("unexpected shapes: input {x:?}, weight {w:?}, output {y:?}"),
            ));
        }
        let spatial = rank - 2;
        let groups = attr_int(node, "group", 1);
        let groups = usize::try_from(groups)
            .ok()
            .filter(|&g| g > 0)
            .ok_or_else(|| Self::invalid(node, name, format!("group must be positive (got {groups})")))?;
        let (cin, cout) = (x[1], w[0]);
        if cin == 0 || cout == 0 || w[1].saturating_mul(groups) != cin || cout % groups != 0 {
            return Err(Self::invalid(
                node,
                name,
                format!("weight {w:?} with {groups} groups does not fit {cin} input channels"),
            ));
        }
        let vec_attr = |attr_name: &str, default: usize| -> Result<Vec<usize>, OnnxErrorKind> {
            match attr_ints(node, attr_name) {
                None => Ok(vec![default; spatial]),
                Some(v) => v
                    .iter()
                    .map(|&d| usize::try_from(d).ok())
                    .collect::<Option<Vec<usize>>>()
                    .ok_or_else(|| Self::invalid(node, name, format!("negative {attr_name} {v:?}"))),
            }
        };
        let strides = vec_attr("strides", 1)?;
        let dilations = vec_attr("dilations", 1)?;
        let pads = match attr_ints(node, "pads") {
            None => vec![0; 2 * spatial],
            Some(_) => vec_attr("pads", 0)?,
        };
        if strides.len() != spatial || dilations.len() != spatial || pads.len() != 2 * spatial {
            return Err(Self::invalid(
                node,
                name,
                format!(
                    "strides {strides:?}, dilations {dilations:?} or pads {pads:?} do not match a {spatial}-D convolution"
                ),
            ));
        }
        let auto_pad = attr_str(node, "auto_pad");
        let begin: Vec<usize> = (0..spatial)
            .map(|a| {
                let (input, out, k) = (x[2 + a], y[2 + a], w[2 + a]);
                match auto_pad.as_str() {
                    "SAME_UPPER" | "SAME_LOWER" => {
                        let span = dilations[a].saturating_mul(k.max(1) - 1).saturating_add(1);
                        let total = ((out.max(1) - 1) * strides[a] + span).saturating_sub(input);
                        if auto_pad == "SAME_UPPER" {
                            total / 2
                        } else {
                            total - total / 2
                        }
                    }
                    "VALID" => 0,
                    _ => pads[a],
                }
            })
            .collect();
        if y[1] != cout {
            return Err(Self::invalid(
                node,
                name,
                format!("output {y:?} does not have the weight's {cout} channels"),
            ));
        }
        if y[2..].contains(&0) {
            return Err(NetworkError::EmptyOutput {
                network: self.network.to_string(),
                h: self.input_hw[0],
                w: self.input_hw[1],
                layer: self.layers.len(),
                name: name.to_string(),
            }
            .into());
        }
        // A 1-D convolution is a 2-D one over a 1 x L map.
        let two = |v: &[usize], fill: usize| if spatial == 1 { [fill, v[0]] } else { [v[0], v[1]] };
        Ok(Role::Layer(Layer {
            index: 0,
            name: name.to_string(),
            kind: LayerKind::Conv,
            in_channels: cin,
            out_channels: cout,
            kernel: two(&w[2..], 1),
            stride: two(&strides, 1),
            padding: two(&begin, 0),
            dilation: two(&dilations, 1),
            groups,
            input_hw: two(&x[2..], 1),
            output_hw: two(&y[2..], 1),
        }))
    }

    /// Gemm / MatMul with a constant operand. Applied at P > 1 positions (a sequence, or a
    /// MatMul on an NHWC map) it is mapped as a 1x1 convolution over the positions, which
    /// needs P crossbar activations; at one position it is a linear layer.
    fn matmul(
        &self,
        node: &pb::NodeProto,
        name: &str,
        a_ix: usize,
        b_ix: usize,
        gemm: bool,
    ) -> Result<Role, OnnxErrorKind> {
        let (a_const, b_const) = (self.is_const(node, a_ix), self.is_const(node, b_ix));
        if !a_const && !b_const {
            return Ok(Role::Data);
        }
        let input = |ix: usize| {
            node.input
                .get(ix)
                .map(String::as_str)
                .ok_or_else(|| Self::invalid(node, name, format!("missing input {ix}")))
        };
        let a = self.shape(node, name, input(a_ix)?)?;
        let b = self.shape(node, name, input(b_ix)?)?;
        let (trans_a, trans_b) = if gemm {
            (attr_int(node, "transA", 0) != 0, attr_int(node, "transB", 0) != 0)
        } else {
            (false, false)
        };
        let bad = || Self::invalid(node, name, format!("unexpected operand shapes {a:?} and {b:?}"));
        // (in, out, positions, the data operand's shape)
        let (k, n, positions, data) = if b_const {
            let (k, n) = match (b.len(), trans_b) {
                (1, _) => (b[0], 1),
                (2, false) => (b[0], b[1]),
                (2, true) => (b[1], b[0]),
                _ => {
                    return Ok(Role::Unsupported(format!(
                        "batched constant weight of shape {b:?}"
                    )));
                }
            };
            let positions: usize = match (a.len(), trans_a) {
                (0, _) => return Err(bad()),
                (2, true) => a[1],
                (r, _) => product(&a[..r - 1]),
            };
            (k, n, positions, a.clone())
        } else {
            // Constant left operand W (M x K) applied to the columns of the data.
            let (m, k) = match (a.len(), trans_a) {
                (2, false) => (a[0], a[1]),
                (2, true) => (a[1], a[0]),
                _ => {
                    return Ok(Role::Unsupported(format!(
                        "batched constant weight of shape {a:?}"
                    )));
                }
            };
            let r = b.len();
            if r < 2 {
                return Err(bad());
            }
            let positions = if gemm && trans_b {
                b[0]
            } else {
                product(&b[..r - 2]).saturating_mul(b[r - 1])
            };
            (k, m, positions, b.clone())
        };
        if k == 0 || n == 0 || positions == 0 {
            return Err(bad());
        }
        let layer = |kind, hw: [usize; 2]| Layer {
            index: 0,
            name: name.to_string(),
            kind,
            in_channels: k,
            out_channels: n,
            kernel: [1, 1],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
            input_hw: hw,
            output_hw: hw,
        };
        if positions == 1 {
            return Ok(Role::Layer(layer(LayerKind::Linear, [1, 1])));
        }
        // Keep a 2-D map's shape when the data is (1, H, W, C); otherwise 1 x P.
        let hw = match data.len() {
            4 if b_const && data[1] * data[2] == positions => [data[1], data[2]],
            _ => [1, positions],
        };
        Ok(Role::Layer(layer(LayerKind::Conv, hw)))
    }
}

/// Ops that make a weight layer (when their weight is constant).
const WEIGHT_OPS: &[&str] = &[
    "Conv",
    "ConvInteger",
    "QLinearConv",
    "Gemm",
    "MatMul",
    "MatMulInteger",
    "QLinearMatMul",
];

/// A weight-bearing op inside a control-flow node's subgraphs (If, Loop, Scan): rnc maps
/// straight-line graphs only, and dropping those weights silently would understate the model.
fn subgraph_weight_op(node: &pb::NodeProto) -> Option<String> {
    fn in_graph(g: &pb::GraphProto) -> Option<String> {
        g.node.iter().find_map(|n| {
            if WEIGHT_OPS.contains(&n.op_type.as_str())
                || UNSUPPORTED_WEIGHT_OPS.contains(&n.op_type.as_str())
            {
                Some(n.op_type.clone())
            } else {
                subgraph_weight_op(n)
            }
        })
    }
    node.attribute
        .iter()
        .flat_map(|a| a.g.iter().chain(a.graphs.iter()))
        .find_map(in_graph)
}

/// Every input name used inside a node's subgraphs (recursively).
fn subgraph_inputs<'a>(node: &'a pb::NodeProto, out: &mut Vec<&'a str>) {
    for g in node
        .attribute
        .iter()
        .flat_map(|a| a.g.iter().chain(a.graphs.iter()))
    {
        for n in &g.node {
            out.extend(n.input.iter().map(String::as_str).filter(|s| !s.is_empty()));
            subgraph_inputs(n, out);
        }
    }
}

fn product(dims: &[usize]) -> usize {
    dims.iter().fold(1usize, |p, &d| p.saturating_mul(d))
}

fn is_random(op: &str) -> bool {
    op.starts_with("Random") || op == "Multinomial" || op == "Bernoulli"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(model_name(Path::new("/a/b/mbv3.onnx.gz")), "mbv3");
        assert_eq!(model_name(Path::new("x.onnx")), "x");
        assert_eq!(model_name(Path::new("x.bin")), "x.bin");
    }

    #[test]
    fn garbage_is_not_onnx() {
        let opts = OnnxOptions::default();
        for bytes in [&b""[..], b"hello world\n", &[0xff; 64]] {
            let e = load_bytes("t", bytes, None, &opts).unwrap_err();
            assert!(matches!(e, OnnxErrorKind::NotOnnx(_)), "{e}");
        }
        let e = load_bytes("t", &[0x1f, 0x8b, 8, 0, 0], None, &opts).unwrap_err();
        assert!(matches!(e, OnnxErrorKind::Gzip(_)), "{e}");
    }
}
