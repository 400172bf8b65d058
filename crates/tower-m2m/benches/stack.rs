//! Benchmark placeholder, replaced by the stack benchmark.
fn main() {}
