"""Adapters for third-party scheduler libraries: optax, keras, paddle, mmengine, timm, mindspore, mlx, fvcore,
pytorch-optimizer.

Each module follows the convention in conformance/libraries/common.py (a PORTING table as data, the library
imported lazily, so every module imports without its library) and is registered by name as an entry point in
group `lr_conformance.adapters`: `lr-conformance run --adapter paddle64 --expectations paddle-float64`.
`lr-conformance adapters` lists them, whether each one imports here, and the library version.
The interface, discovery and the torch reference live in conformance/adapters/.
"""
