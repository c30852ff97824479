#!/usr/bin/env python3
"""Builds the hand-made ONNX fixtures in tests/fixtures/onnx/gen/ with onnx.helper.

Usage: pip install onnx && python3 scripts/gen_onnx_fixtures.py
The outputs are committed; rerunning the script must reproduce them byte for byte
(weights are zeros, nothing random). Expected layer tables are written out by hand in
tests/onnx_import.rs, so these files are inputs, not oracles.
"""

import gzip
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "onnx", "gen")
OPSET = 17


class Graph:
    """Small builder: zero-weight initializers, named nodes, fresh tensor names."""

    def __init__(self):
        self.nodes = []
        self.inits = []
        self.n = 0

    def tensor(self, hint):
        self.n += 1
        return f"{hint}_out{self.n}"

    def const(self, name, shape, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.zeros(shape, dtype=dtype), name))
        return name

    def node(self, op, inputs, name, out=None, **attrs):
        out = out or self.tensor(name.replace("/", "_") or op)
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv(self, name, x, cin, cout, k, groups=1, bias=True, **attrs):
        kh, kw = (k, k) if isinstance(k, int) else k
        w = self.const(f"{name}.weight", [cout, cin // groups, kh, kw])
        ins = [x, w]
        if bias:
            ins.append(self.const(f"{name}.bias", [cout]))
        return self.node("Conv", ins, name, group=groups, **attrs)

    def model(self, inputs, outputs, name):
        g = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="rnc-fixtures")
        m.ir_version = 8
        onnx.checker.check_model(m)
        onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        return m


def image_input(name="x", c=3, h=32, w=32):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", c, h, w])


def output(name, rank):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None if rank is None else [None] * rank)


def cases():
    """Every Conv attribute rnc reads, plus Gemm (both transB) and MatMul."""
    g = Graph()
    x = g.conv("plain", "x", 3, 8, 3, pads=[1, 1, 1, 1])
    x = g.node("Relu", [x], "relu0")
    x = g.conv("depthwise", x, 8, 8, 3, groups=8, strides=[2, 2], pads=[1, 1, 1, 1])
    a = g.conv("grouped", x, 8, 16, 3, groups=4, pads=[1, 1, 1, 1])
    b = g.conv("dilated", a, 16, 16, 3, dilations=[2, 2], pads=[2, 2, 2, 2])
    s = g.node("Add", [a, b], "residual")
    up = g.conv("same_upper", s, 16, 16, 3, strides=[2, 2], auto_pad="SAME_UPPER")
    lo = g.conv("same_lower", up, 16, 16, 2, auto_pad="SAME_LOWER")
    # pads are [h_begin, w_begin, h_end, w_end]
    asym = g.conv("asymmetric", lo, 16, 8, 3, pads=[0, 1, 1, 2])
    # no kernel_shape attribute: the kernel comes from the weight
    valid = g.conv("valid_rect", asym, 8, 8, (3, 2), auto_pad="VALID", strides=[1, 2], bias=False)
    p1 = g.node("GlobalAveragePool", [valid], "gap_valid")
    p2 = g.node("GlobalAveragePool", [up], "gap_upper")
    c = g.node("Concat", [p1, p2], "concat", axis=1)
    f = g.node("Flatten", [c], "flatten", axis=1)
    h = g.node("Gemm", [f, g.const("fc1.weight", [32, 24]), g.const("fc1.bias", [32])], "fc1", transB=1)
    h = g.node("Relu", [h], "relu1")
    h = g.node("MatMul", [h, g.const("fc2.weight", [32, 12])], "fc2")
    h = g.node("Add", [h, g.const("fc2.bias", [12])], "fc2_bias")
    g.node("Gemm", [h, g.const("fc3.weight", [12, 10])], "fc3", out="y")
    return g.model([image_input()], [output("y", 2)], "cases")


def tokens():
    """MatMul on a sequence: a weight MatMul at 16 positions and an activation-activation one."""
    g = Graph()
    t = helper.make_tensor_value_info("t", TensorProto.FLOAT, ["batch", 16, 32])
    p = g.node("MatMul", ["t", g.const("proj.weight", [32, 64])], "proj")
    pt = g.node("Transpose", [p], "transpose", perm=[0, 2, 1])
    sc = g.node("MatMul", [p, pt], "scores")
    sc = g.node("Softmax", [sc], "softmax", axis=-1)
    g.node("MatMul", [sc, g.const("out.weight", [16, 8])], "out", out="y")
    return g.model([t], [output("y", 3)], "tokens")


def conv1d():
    g = Graph()
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 50])
    w = g.const("c1.weight", [8, 4, 5])
    y = g.node("Conv", ["x", w], "c1", strides=[2], pads=[2, 2])
    y = g.node("Relu", [y], "relu")
    w2 = g.const("c2.weight", [8, 8, 3])
    g.node("Conv", [y, w2], "c2", out="y", pads=[1, 1])
    return g.model([x], [output("y", 3)], "conv1d")


def unnamed():
    """Nodes without names: rnc names them <op>_<node position>."""
    g = Graph()
    w1, w2 = g.const("w1", [4, 3, 3, 3]), g.const("w2", [4, 4, 1, 1])
    x = g.node("Conv", ["x", w1], "", pads=[1, 1, 1, 1])
    x = g.node("Relu", [x], "")
    g.node("Conv", [x, w2], "", out="y")
    return g.model([image_input(h=8, w=8)], [output("y", 4)], "unnamed")


def no_weights():
    g = Graph()
    x = g.node("Relu", ["x"], "relu")
    g.node("MaxPool", [x], "pool", out="y", kernel_shape=[2, 2], strides=[2, 2])
    return g.model([image_input(h=8, w=8)], [output("y", 4)], "no_weights")


def symbolic_hw():
    g = Graph()
    g.conv("c", "x", 3, 4, 3, pads=[1, 1, 1, 1])
    g.nodes[-1].output[0] = "y"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    return g.model([x], [output("y", 4)], "symbolic_hw")


def unsupported():
    """Conv -> ConvTranspose -> Conv: the middle op has weights rnc cannot map."""
    g = Graph()
    x = g.conv("head", "x", 3, 8, 3, pads=[1, 1, 1, 1])
    w = g.const("up.weight", [8, 8, 2, 2])
    x = g.node("ConvTranspose", [x, w], "up", strides=[2, 2])
    g.conv("tail", x, 8, 4, 1)
    g.nodes[-1].output[0] = "y"
    return g.model([image_input(h=8, w=8)], [output("y", 4)], "unsupported")


def quantized():
    """QLinearConv, ConvInteger and QLinearMatMul / MatMulInteger: 8-bit weights, same boxes."""
    g = Graph()
    u8, i32 = np.uint8, np.int32
    sc = g.const("scale", [], np.float32)
    zp = g.const("zero", [], u8)
    xq = g.node("QuantizeLinear", ["x", sc, zp], "quant")
    w1 = g.const("qconv.weight", [4, 3, 3, 3], u8)
    b1 = g.const("qconv.bias", [4], i32)
    q = g.node("QLinearConv", [xq, sc, zp, w1, sc, zp, sc, zp, b1], "qconv", pads=[1, 1, 1, 1], strides=[2, 2])
    w2 = g.const("iconv.weight", [6, 4, 1, 1], u8)
    c = g.node("ConvInteger", [q, w2, zp, zp], "iconv")
    c = g.node("Cast", [c], "cast", to=TensorProto.FLOAT)
    c = g.node("Flatten", [c], "flatten", axis=1)
    cq = g.node("QuantizeLinear", [c, sc, zp], "requant")
    w3 = g.const("qfc.weight", [96, 10], u8)
    f = g.node("QLinearMatMul", [cq, sc, zp, w3, sc, zp, sc, zp], "qfc")
    w4 = g.const("ifc.weight", [10, 5], u8)
    g.node("MatMulInteger", [f, w4, zp, zp], "ifc", out="y")
    y = helper.make_tensor_value_info("y", TensorProto.INT32, [None, 5])
    return g.model([image_input(h=8, w=8)], [y], "quantized")


def control_flow():
    """A Conv inside an If branch: not a straight-line graph rnc can map."""
    g = Graph()
    x = g.conv("head", "x", 3, 4, 1)
    branch = Graph()
    branch.conv("inner", x, 4, 4, 1)
    branch.nodes[-1].output[0] = "b_out"
    then_g = helper.make_graph(branch.nodes, "then", [], [output("b_out", 4)], branch.inits)
    else_g = helper.make_graph([helper.make_node("Identity", [x], ["e_out"], name="same")], "else", [],
                               [output("e_out", 4)])
    cond = g.const("cond", [], np.bool_)
    g.node("If", [cond], "branch", out="y", then_branch=then_g, else_branch=else_g)
    return g.model([image_input(h=8, w=8)], [output("y", 4)], "control_flow")


def resnet18(res=64, classes=10):
    """The CIFAR ResNet-18 of src/network/zoo.rs, node names = PyTorch module names."""
    g = Graph()
    x = g.conv("conv1", "x", 3, 64, 3, pads=[1, 1, 1, 1], bias=False)
    x = g.node("Relu", [x], "relu")
    cin = 64
    for stage, width in enumerate([64, 128, 256, 512]):
        for block in range(2):
            s = 2 if stage > 0 and block == 0 else 1
            p = f"layer{stage + 1}.{block}"
            y = g.conv(f"{p}.conv1", x, cin, width, 3, strides=[s, s], pads=[1, 1, 1, 1], bias=False)
            y = g.node("Relu", [y], f"{p}.relu1")
            y = g.conv(f"{p}.conv2", y, width, width, 3, pads=[1, 1, 1, 1], bias=False)
            if s != 1 or cin != width:
                short = g.conv(f"{p}.shortcut.0", x, cin, width, 1, strides=[s, s], bias=False)
            else:
                short = x
            y = g.node("Add", [y, short], f"{p}.add")
            x = g.node("Relu", [y], f"{p}.relu2")
            cin = width
    x = g.node("GlobalAveragePool", [x], "avgpool")
    x = g.node("Flatten", [x], "flatten", axis=1)
    g.node("Gemm", [x, g.const("linear.weight", [classes, 512]), g.const("linear.bias", [classes])],
           "linear", out="y", transB=1)
    return g.model([image_input(h=res, w=res)], [output("y", 2)], "resnet18")


def save(model, name):
    data = model.SerializeToString()
    path = os.path.join(OUT, name)
    if name.endswith(".gz"):
        # mtime=0 keeps the output byte-identical across runs
        data = gzip.compress(data, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    print(f"{path}: {len(data)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    save(cases(), "cases.onnx")
    save(tokens(), "tokens.onnx")
    save(conv1d(), "conv1d.onnx")
    save(unnamed(), "unnamed.onnx")
    save(no_weights(), "no_weights.onnx")
    save(symbolic_hw(), "symbolic_hw.onnx")
    save(unsupported(), "unsupported.onnx")
    save(quantized(), "quantized.onnx")
    save(control_flow(), "control_flow.onnx")
    save(resnet18(), "resnet18_64.onnx.gz")


if __name__ == "__main__":
    main()
