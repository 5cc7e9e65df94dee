//! Reference pages on how the emulator behaves, beyond the API docs.

#[doc = include_str!("docs/errors.md")]
pub mod errors {}
