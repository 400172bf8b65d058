//! What the `hot_path` callgrind driver shares with `tower-m2m`'s benchmarks.
//!
//! This package only measures `tower-m2m`: it builds that crate's benchmarks
//! (`crates/tower-m2m/benches`) without tokio's `test-util` feature, and holds the `hot_path`
//! example. See `BENCHMARKS.md` at the repository root for how to run them and the latest
//! figures.

#[path = "../../tower-m2m/benches/support/mod.rs"]
mod support;

pub use support::NoOp;
