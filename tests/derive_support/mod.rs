//! Shared by the `derive_*` tests that check `#[derive(BqRow)]` without an
//! emulator: the rows under test, the prost-reflect checker and the proptest
//! strategies. It is a module of its own, not part of `support/`, so that the
//! emulator tests do not compile a sixty-column derive they never use.

#![allow(dead_code)]

pub mod check;
pub mod rows;
pub mod strategies;
