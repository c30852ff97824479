//! Builds ONNX models in Rust (zero weights) for property tests and the import benchmark.
#![allow(dead_code)]

use prost::Message;
use tract_onnx::pb;

/// Accumulates named nodes and zero-filled float initializers.
#[derive(Default)]
pub struct ModelBuilder {
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
}

pub fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

pub fn string(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[Option<i64>]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => Value::DimValue(*v),
                None => Value::DimParam("batch".into()),
            }),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl ModelBuilder {
    pub fn weight(&mut self, name: &str, dims: &[usize]) -> String {
        let n: usize = dims.iter().product();
        self.inits.push(pb::TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            raw_data: vec![0; 4 * n],
            ..Default::default()
        });
        name.into()
    }

    pub fn node(&mut self, op: &str, inputs: &[&str], name: &str, attrs: Vec<pb::AttributeProto>) -> String {
        let out = format!("{name}_out");
        self.nodes.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: name.into(),
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
        out
    }

    /// Conv with weight `[cout, cin/groups, kh, kw]` and explicit pads `[hb, wb, he, we]`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        name: &str,
        x: &str,
        cin: usize,
        cout: usize,
        k: [usize; 2],
        stride: [usize; 2],
        pads: [usize; 4],
        dilation: [usize; 2],
        groups: usize,
    ) -> String {
        let w = self.weight(&format!("{name}.weight"), &[cout, cin / groups, k[0], k[1]]);
        let b = self.weight(&format!("{name}.bias"), &[cout]);
        let i = |v: &[usize]| v.iter().map(|&d| d as i64).collect::<Vec<_>>();
        self.node(
            "Conv",
            &[x, &w, &b],
            name,
            vec![
                int("group", groups as i64),
                ints("kernel_shape", &i(&k)),
                ints("strides", &i(&stride)),
                ints("pads", &i(&pads)),
                ints("dilations", &i(&dilation)),
            ],
        )
    }

    /// The serialized model with one input `x` of shape `(batch, dims...)` and output `y`.
    pub fn build(self, input: &[usize], output: &str) -> Vec<u8> {
        self.build_batch(None, input, output)
    }

    /// As [`ModelBuilder::build`], with a fixed batch size when `batch` is given.
    pub fn build_batch(mut self, batch: Option<usize>, input: &[usize], output: &str) -> Vec<u8> {
        if let Some(last) = self.nodes.iter_mut().rev().find(|n| n.output[0] == output) {
            last.output[0] = "y".into();
        }
        let mut dims = vec![batch.map(|b| b as i64)];
        dims.extend(input.iter().map(|&d| Some(d as i64)));
        let graph = pb::GraphProto {
            node: self.nodes,
            name: "built".into(),
            initializer: self.inits,
            input: vec![value_info("x", &dims)],
            output: vec![pb::ValueInfoProto {
                name: "y".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: 17,
            }],
            producer_name: "rnc-tests".into(),
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }
}

/// MobileNetV2 (ImageNet layout, width 1.0, 1000 classes): 3.5 M weights, about 14 MB.
pub fn mobilenet_v2(side: usize) -> Vec<u8> {
    let mut b = ModelBuilder::default();
    let mut x = b.conv("stem", "x", 3, 32, [3, 3], [2, 2], [1; 4], [1, 1], 1);
    x = b.node("Clip", &[&x], "stem.relu6", vec![]);
    let mut cin = 32;
    let settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    let mut block = 0;
    for (t, c, n, s) in settings {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let p = format!("features.{block}");
            let hidden = cin * t;
            let mut y = x.clone();
            if t != 1 {
                y = b.conv(
                    &format!("{p}.expand"),
                    &y,
                    cin,
                    hidden,
                    [1, 1],
                    [1, 1],
                    [0; 4],
                    [1, 1],
                    1,
                );
                y = b.node("Clip", &[&y], &format!("{p}.relu6a"), vec![]);
            }
            y = b.conv(
                &format!("{p}.dw"),
                &y,
                hidden,
                hidden,
                [3, 3],
                [stride, stride],
                [1; 4],
                [1, 1],
                hidden,
            );
            y = b.node("Clip", &[&y], &format!("{p}.relu6b"), vec![]);
            y = b.conv(
                &format!("{p}.project"),
                &y,
                hidden,
                c,
                [1, 1],
                [1, 1],
                [0; 4],
                [1, 1],
                1,
            );
            if stride == 1 && cin == c {
                y = b.node("Add", &[&x, &y], &format!("{p}.add"), vec![]);
            }
            x = y;
            cin = c;
            block += 1;
        }
    }
    x = b.conv("last", &x, cin, 1280, [1, 1], [1, 1], [0; 4], [1, 1], 1);
    x = b.node("GlobalAveragePool", &[&x], "pool", vec![]);
    x = b.node("Flatten", &[&x], "flatten", vec![int("axis", 1)]);
    let w = b.weight("classifier.weight", &[1000, 1280]);
    let bias = b.weight("classifier.bias", &[1000]);
    let y = b.node("Gemm", &[&x, &w, &bias], "classifier", vec![int("transB", 1)]);
    b.build(&[3, side, side], &y)
}
