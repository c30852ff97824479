#!/bin/sh
# Large-network benchmark (issue 23): builds rnc (release) and runs scripts/large_nets.py,
# which exports torchvision's mobilenet_v2, efficientnet_b0, densenet121 and resnet18 at
# 224x224 to a cache outside the repository ($CARGO_TARGET_DIR/large-nets) and times the
# default compile at 1.0x and 2.0x of each ISAAC-like footprint. Needs python3-torch and
# python3-torchvision (Debian's /usr/bin/python3). Arguments go to large_nets.py.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec /usr/bin/python3 scripts/large_nets.py "$@"
