//! Examples and integration tests of bqwrite live in `examples/` and `tests/`.
